//! Email normalization: trim, lowercase, syntax check.
//!
//! Syntax is checked by the `email_address` crate (RFC 5321/5322 address syntax). The whole
//! address is lowercased: mailbox providers treat the local part case-insensitively in
//! practice, and a case-sensitive key would split one person into several contacts.

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// Empty or only whitespace.
    #[error("email is empty")]
    Empty,
    /// Not a syntactically valid address.
    #[error("invalid email address: {0:?}")]
    Invalid(String),
}

impl EmailError {
    /// snake_case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            EmailError::Empty => "empty",
            EmailError::Invalid(_) => "invalid_email",
        }
    }
}

/// Trims and lowercases an address and checks its syntax.
///
/// # Errors
///
/// [`EmailError::Empty`] for blank input, [`EmailError::Invalid`] when the syntax is wrong.
///
/// # Examples
///
/// ```
/// use leadroute_core::email::normalize;
/// assert_eq!(normalize(" JADE99@EXAMPLE.NET ").unwrap(), "jade99@example.net");
/// assert!(normalize("jade99@").is_err());
/// ```
pub fn normalize(raw: &str) -> Result<String, EmailError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(EmailError::Empty);
    }
    let lower = t.to_lowercase();
    if email_address::EmailAddress::is_valid(&lower) && !lower.contains(['<', '>', ' ']) {
        Ok(lower)
    } else {
        Err(EmailError::Invalid(t.chars().take(254).collect()))
    }
}

/// How [`dedup_key`] derives the key that finds a contact by email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmailKeyRules {
    /// Apply mailbox-provider rules (opt-in): for Gmail (`gmail.com`, `googlemail.com`),
    /// dots in the local part are ignored, a `+tag` is dropped, and `googlemail.com` is
    /// `gmail.com`. Off, the key is the normalized address.
    pub provider_rules: bool,
}

/// The dedup key of an already [`normalize`]d address.
///
/// The key is a plain `String` compared byte for byte: `email_address::EmailAddress`'s `Hash`
/// disagrees with its `==` on domain case, so it is never used as a key.
///
/// # Examples
///
/// ```
/// use leadroute_core::email::{dedup_key, EmailKeyRules};
/// let gmail = EmailKeyRules { provider_rules: true };
/// assert_eq!(dedup_key("jo.ann+ads@googlemail.com", gmail), "joann@gmail.com");
/// assert_eq!(dedup_key("jo.ann+ads@googlemail.com", EmailKeyRules::default()),
///            "jo.ann+ads@googlemail.com");
/// assert_eq!(dedup_key("jo.ann+ads@example.com", gmail), "jo.ann+ads@example.com");
/// ```
pub fn dedup_key(normalized: &str, rules: EmailKeyRules) -> String {
    let Some((local, domain)) = normalized.rsplit_once('@') else {
        return normalized.to_string();
    };
    if rules.provider_rules && (domain == "gmail.com" || domain == "googlemail.com") {
        let base = local.split('+').next().unwrap_or(local);
        let stripped: String = base.chars().filter(|c| *c != '.').collect();
        if !stripped.is_empty() {
            return format!("{stripped}@gmail.com");
        }
    }
    normalized.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_refuses() {
        assert_eq!(
            normalize(" scotttyler@example.com ").unwrap(),
            "scotttyler@example.com"
        );
        assert_eq!(normalize("A.B+tag@Gmail.COM").unwrap(), "a.b+tag@gmail.com");
        assert_eq!(normalize("").unwrap_err(), EmailError::Empty);
        for bad in [
            "plainaddress",
            "@example.com",
            "a@",
            "a b@example.com",
            "Jo <jo@x.com>",
        ] {
            assert_eq!(
                normalize(bad).unwrap_err().code(),
                "invalid_email",
                "{bad:?}"
            );
        }
    }
}
