//! Contact dedup: one contact per person within a dedup scope, and lead-level duplicates.
//!
//! **Scope.** The seed keys contacts on (E.164 phone, provider): the same person sent by two
//! providers is two contacts, because each provider's lead is paid for separately. The seed's
//! inbound webhooks key on (webhook id, phone). [`DedupScope`] picks one of these or a single
//! global scope.
//!
//! **Key.** Within a scope a record matches a contact on its phone. A record without a valid
//! phone (accepted only when the engine does not require one) matches on its email key
//! ([`crate::email::dedup_key`]); a contact known only by email that later arrives with a
//! phone gets the phone (a merge). The store backs both keys with `UNIQUE` constraints.
//!
//! **Updates.** A returning person updates their contact: empty fields are filled, a new
//! non-empty value replaces an old one, and an empty value never overwrites anything
//! ([`merge`]). Each change is reported with old and new values for `contact_events`.
//!
//! **Lead-level duplicates.** The same contact and product again within a window (default 30
//! days) is a duplicate lead, linked to the original and neither routed nor billed
//! ([`is_duplicate`]).

use crate::model::{ContactId, NewContact};
use crate::storage::{ContactRepo, Inserted, StorageError};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// Which records share contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DedupScope {
    /// Per provider, as in the seed's provider intake: key (provider id, phone).
    #[default]
    Provider,
    /// Per inbound webhook, as in the seed's webhook intake: key (webhook id, phone). Records
    /// that arrive without a webhook id fall back to their provider's scope.
    Webhook,
    /// One contact per phone across all providers and webhooks.
    Global,
}

impl DedupScope {
    /// The scope key stored in `contacts.dedup_scope`: `provider:<id>`, `webhook:<id>` or
    /// `global`.
    pub fn key(self, provider_id: &str, webhook_id: Option<&str>) -> String {
        match (self, webhook_id) {
            (DedupScope::Global, _) => "global".to_string(),
            (DedupScope::Webhook, Some(w)) => format!("webhook:{w}"),
            (DedupScope::Provider | DedupScope::Webhook, _) => format!("provider:{provider_id}"),
        }
    }
}

/// One changed contact field, for `contact_events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// Field name, as in the `contacts` table.
    pub field: &'static str,
    /// The value before.
    pub old: Option<String>,
    /// The value after.
    pub new: Option<String>,
}

/// What [`resolve_contact`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactChange {
    /// A new contact was stored.
    Created,
    /// An existing contact was found and nothing in the record was new.
    Unchanged,
    /// An existing contact was found and updated with these changes.
    Updated(Vec<FieldChange>),
    /// A contact known only by email received this record's phone (and these changes).
    Merged(Vec<FieldChange>),
}

impl ContactChange {
    /// The `contact_events.event_type` to record: `created`, `updated`, `merged`, or `None`.
    pub fn event_type(&self) -> Option<crate::status::EventKind> {
        use crate::status::EventKind;
        match self {
            ContactChange::Created => Some(EventKind::Created),
            ContactChange::Unchanged => None,
            ContactChange::Updated(_) => Some(EventKind::Updated),
            ContactChange::Merged(_) => Some(EventKind::Merged),
        }
    }
}

/// Fills and updates `existing` from `incoming` (see the module docs).
///
/// The scope and creation time never change; the phone is only ever set, never replaced
/// (it is the key); the email key follows the email. Returns the merged contact and the
/// changes, in field order.
pub fn merge(existing: &NewContact, incoming: &NewContact) -> (NewContact, Vec<FieldChange>) {
    let mut out = existing.clone();
    let mut changes = Vec::new();
    if out.phone_e164.is_none() {
        apply(
            &mut changes,
            "phone_e164",
            &mut out.phone_e164,
            &incoming.phone_e164,
        );
    }
    if out.phone_e164 == incoming.phone_e164 {
        apply(
            &mut changes,
            "phone_extension",
            &mut out.phone_extension,
            &incoming.phone_extension,
        );
    }
    if apply(&mut changes, "email", &mut out.email, &incoming.email) {
        out.email_key = incoming.email_key.clone();
    }
    apply(
        &mut changes,
        "first_name",
        &mut out.first_name,
        &incoming.first_name,
    );
    apply(
        &mut changes,
        "last_name",
        &mut out.last_name,
        &incoming.last_name,
    );
    apply(
        &mut changes,
        "zip_code",
        &mut out.zip_code,
        &incoming.zip_code,
    );
    (out, changes)
}

/// Sets `old` to `new` when `new` is non-empty and different; records and reports the change.
fn apply(
    changes: &mut Vec<FieldChange>,
    field: &'static str,
    old: &mut Option<String>,
    new: &Option<String>,
) -> bool {
    match new.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) if old.as_deref() != Some(v) => {
            changes.push(FieldChange {
                field,
                old: old.clone(),
                new: Some(v.to_string()),
            });
            *old = Some(v.to_string());
            true
        }
        _ => false,
    }
}

/// Finds the contact for `incoming` in its scope, updating or merging it, or stores it.
///
/// Call it inside a transaction. A record with a phone matches on the phone; failing that,
/// a contact known only by the same email key takes the phone (a merge). A record without a
/// phone matches on its email key. If another writer creates the same key first, the
/// insert-if-absent finds the contact it created, which is updated instead.
///
/// # Errors
///
/// [`StorageError`] from the store; `Conflict` when `incoming` has neither phone nor email key.
pub fn resolve_contact(
    repo: &dyn ContactRepo,
    incoming: &NewContact,
) -> Result<(ContactId, ContactChange), StorageError> {
    if let Some(found) = find(repo, incoming)? {
        return update(repo, found.0, &found.1, incoming, found.2);
    }
    match repo.insert_contact_if_absent(incoming)? {
        Inserted::Created(id) => Ok((id, ContactChange::Created)),
        // Another writer stored the key since `find` looked: update theirs.
        Inserted::Existing(id) => match repo.contact(id)? {
            Some(c) => update(repo, id, &c.contact, incoming, false),
            None => Err(StorageError::not_found(format!("contact {id} vanished"))),
        },
    }
}

/// The matching contact: (id, stored fields, whether the match is a merge).
fn find(
    repo: &dyn ContactRepo,
    incoming: &NewContact,
) -> Result<Option<(ContactId, NewContact, bool)>, StorageError> {
    let scope = &incoming.dedup_scope;
    if let Some(phone) = &incoming.phone_e164 {
        if let Some(c) = repo.contact_by_phone(scope, phone)? {
            return Ok(Some((c.id, c.contact, false)));
        }
    }
    if let Some(key) = &incoming.email_key {
        if let Some(c) = repo.contact_by_email_key(scope, key)? {
            let merge = incoming.phone_e164.is_some() && c.contact.phone_e164.is_none();
            // A record with a phone never joins a contact that has another phone.
            if incoming.phone_e164.is_none() || merge {
                return Ok(Some((c.id, c.contact, merge)));
            }
        }
    }
    Ok(None)
}

fn update(
    repo: &dyn ContactRepo,
    id: ContactId,
    existing: &NewContact,
    incoming: &NewContact,
    is_merge: bool,
) -> Result<(ContactId, ContactChange), StorageError> {
    let (merged, changes) = merge(existing, incoming);
    if changes.is_empty() {
        return Ok((id, ContactChange::Unchanged));
    }
    repo.update_contact(id, &merged)?;
    Ok((
        id,
        if is_merge {
            ContactChange::Merged(changes)
        } else {
            ContactChange::Updated(changes)
        },
    ))
}

/// Whether a lead received at `now` duplicates an original lead of the same contact and
/// product received at `original_received_at`: strictly less than `window` apart. A
/// window of zero or less turns lead-level dedup off.
pub fn is_duplicate(
    original_received_at: Timestamp,
    now: Timestamp,
    window: SignedDuration,
) -> bool {
    window > SignedDuration::ZERO && now.duration_since(original_received_at) < window
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{with_tx, MemoryStore};

    fn new(scope: &str, phone: Option<&str>, email: Option<&str>) -> NewContact {
        NewContact {
            dedup_scope: scope.into(),
            phone_e164: phone.map(Into::into),
            phone_extension: None,
            email: email.map(Into::into),
            email_key: email.map(Into::into),
            first_name: Some("Stephanie".into()),
            last_name: None,
            zip_code: None,
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn same_phone_same_scope_is_one_contact() {
        let store = MemoryStore::new();
        let a = DedupScope::Provider.key("provider-a", None);
        let b = DedupScope::Provider.key("provider-b", None);
        let p = Some("+13178638426");
        let got = with_tx(&store, |tx| {
            Ok([
                resolve_contact(tx, &new(&a, p, None))?,
                resolve_contact(tx, &new(&a, p, None))?,
                resolve_contact(tx, &new(&b, p, None))?,
                resolve_contact(tx, &new(&a, Some("+19198233590"), None))?,
            ])
        })
        .unwrap();
        let ids: Vec<_> = got
            .iter()
            .map(|(id, c)| (*id, c.event_type().map(|k| k.as_str())))
            .collect();
        assert_eq!(
            ids,
            vec![
                (ContactId(1), Some("created")),
                (ContactId(1), None),
                (ContactId(2), Some("created")),
                (ContactId(3), Some("created"))
            ]
        );
    }

    #[test]
    fn scopes() {
        assert_eq!(DedupScope::Global.key("provider-a", Some("wh1")), "global");
        assert_eq!(
            DedupScope::Webhook.key("provider-a", Some("wh1")),
            "webhook:wh1"
        );
        assert_eq!(
            DedupScope::Webhook.key("provider-a", None),
            "provider:provider-a"
        );
        assert_eq!(
            DedupScope::Provider.key("provider-a", Some("wh1")),
            "provider:provider-a"
        );
    }

    #[test]
    fn updates_fill_and_replace_but_never_erase() {
        let s = "global";
        let mut old = new(s, Some("+13178638426"), None);
        old.zip_code = Some("46262".into());
        let mut inc = new(s, Some("+13178638426"), Some("sh@example.net"));
        inc.first_name = Some("Steph".into());
        inc.zip_code = None;
        inc.last_name = Some("  ".into());
        let (m, changes) = merge(&old, &inc);
        let fields: Vec<_> = changes.iter().map(|c| c.field).collect();
        assert_eq!(fields, vec!["email", "first_name"]);
        assert_eq!(changes[1].old.as_deref(), Some("Stephanie"));
        assert_eq!(m.zip_code.as_deref(), Some("46262"));
        assert_eq!(m.last_name, None);
        assert_eq!(m.email_key.as_deref(), Some("sh@example.net"));
        // The phone is the key: it is set once, never replaced.
        let other = new(s, Some("+19198233590"), None);
        assert_eq!(merge(&m, &other).0.phone_e164, m.phone_e164);
    }

    #[test]
    fn email_fallback_and_merge() {
        let store = MemoryStore::new();
        let s = "global";
        let e = Some("jm@example.net");
        let got = with_tx(&store, |tx| {
            let first = resolve_contact(tx, &new(s, None, e))?;
            let again = resolve_contact(tx, &new(s, None, e))?;
            let merged = resolve_contact(tx, &new(s, Some("+13178638426"), e))?;
            // Now phone-keyed: the phone finds it; another phone with that email is new.
            let by_phone = resolve_contact(tx, &new(s, Some("+13178638426"), None))?;
            let other = resolve_contact(tx, &new(s, Some("+19198233590"), e))?;
            let email_only = resolve_contact(tx, &new(s, None, e))?;
            Ok([first, again, merged, by_phone, other, email_only])
        })
        .unwrap();
        let ids: Vec<_> = got
            .iter()
            .map(|(id, c)| (*id, c.event_type().map(|k| k.as_str())))
            .collect();
        assert_eq!(
            ids,
            vec![
                (ContactId(1), Some("created")),
                (ContactId(1), None),
                (ContactId(1), Some("merged")),
                (ContactId(1), None),
                (ContactId(2), Some("created")),
                (ContactId(1), None)
            ]
        );
        let no_key = new(s, None, None);
        assert!(with_tx(&store, |tx| Ok(resolve_contact(tx, &no_key)?)).is_err());
    }

    #[test]
    fn duplicate_window() {
        let t = Timestamp::UNIX_EPOCH;
        let d30 = SignedDuration::from_hours(30 * 24);
        assert!(is_duplicate(
            t,
            t + SignedDuration::from_hours(29 * 24),
            d30
        ));
        assert!(!is_duplicate(t, t + d30, d30));
        assert!(!is_duplicate(t, t, SignedDuration::ZERO));
    }
}
