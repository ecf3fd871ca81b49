//! Contact dedup: one contact per person within a dedup scope.
//!
//! The seed keys contacts on (E.164 phone, provider): the same person sent by two providers is
//! two contacts, because each provider's lead is paid for separately. [`DedupScope`] names the
//! scope; the store enforces one contact per (scope, phone) with a `UNIQUE` constraint, and
//! [`resolve_contact`] finds or creates the contact inside the caller's transaction.

use crate::model::{ContactId, NewContact};
use crate::storage::{ContactRepo, StorageError};

/// Which records share contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DedupScope {
    /// Per provider, as in the seed: key (provider id, E.164 phone).
    #[default]
    Provider,
    /// One contact per phone across all providers.
    Global,
}

impl DedupScope {
    /// The scope key stored in `contacts.dedup_scope`: `provider:<id>` or `global`.
    pub fn key(self, provider_id: &str) -> String {
        match self {
            DedupScope::Provider => format!("provider:{provider_id}"),
            DedupScope::Global => "global".to_string(),
        }
    }
}

/// Finds the contact with `contact`'s (scope, phone), or stores `contact`.
///
/// Returns the contact id and whether it was created. Call it inside a transaction; if
/// another writer created the same key first (a `Conflict` on insert), the existing contact
/// is returned.
///
/// # Errors
///
/// [`StorageError`] from the store.
pub fn resolve_contact(
    repo: &dyn ContactRepo,
    contact: &NewContact,
) -> Result<(ContactId, bool), StorageError> {
    if let Some(c) = repo.contact_by_key(&contact.dedup_scope, &contact.phone_e164)? {
        return Ok((c.id, false));
    }
    match repo.insert_contact(contact) {
        Ok(id) => Ok((id, true)),
        Err(StorageError::Conflict(msg)) => repo
            .contact_by_key(&contact.dedup_scope, &contact.phone_e164)?
            .map(|c| (c.id, false))
            .ok_or(StorageError::Conflict(msg)),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{with_tx, MemoryStore};

    fn new(scope: &str, phone: &str) -> NewContact {
        NewContact {
            dedup_scope: scope.into(),
            phone_e164: phone.into(),
            phone_extension: None,
            email: None,
            first_name: Some("Stephanie".into()),
            last_name: None,
            zip_code: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn same_phone_same_scope_is_one_contact() {
        let store = MemoryStore::new();
        let a = DedupScope::Provider.key("provider-a");
        let b = DedupScope::Provider.key("provider-b");
        let got = with_tx(&store, |tx| {
            Ok((
                resolve_contact(tx, &new(&a, "+13178638426"))?,
                resolve_contact(tx, &new(&a, "+13178638426"))?,
                resolve_contact(tx, &new(&b, "+13178638426"))?,
                resolve_contact(tx, &new(&a, "+19198233590"))?,
            ))
        })
        .unwrap();
        assert_eq!(got, ((1, true), (1, false), (2, true), (3, true)));
        assert_eq!(DedupScope::Global.key("provider-a"), "global");
    }
}
