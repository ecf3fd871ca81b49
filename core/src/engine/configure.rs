//! Configuration: providers, workspaces, routing rules and inbound webhooks are stored, then
//! the snapshot is rebuilt and swapped. A configuration that does not compile changes nothing.

use super::{Engine, Snapshot};
use crate::model::{Provider, WebhookConfig, Workspace};
use crate::routing::RoutingRule;
use crate::storage::with_tx;
use crate::Result;

impl Engine {
    /// Stores providers, workspaces and rules (upserts, in one transaction, workspaces before
    /// the rules that name them) and refreshes the snapshot.
    ///
    /// The new rules are compiled before anything is written, so a bad rule set changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`crate::routing::RoutingError`] for rules that do not compile; storage errors (a rule
    /// naming a workspace that does not exist is a `Conflict`).
    pub fn configure(
        &self,
        providers: &[Provider],
        workspaces: &[Workspace],
        rules: &[RoutingRule],
    ) -> Result<()> {
        let (mut all_p, mut all_w, mut all_r) = with_tx(&*self.store, |tx| {
            Ok((tx.providers()?, tx.workspaces()?, tx.rules()?))
        })?;
        upsert_by(&mut all_p, providers, |p| p.id.clone());
        upsert_by(&mut all_w, workspaces, |w| w.id.clone());
        upsert_by(&mut all_r, rules, |r| r.id);
        Snapshot::build(all_p, all_w, &all_r, Vec::new(), &self.config)?;
        with_tx(&*self.store, |tx| {
            for p in providers {
                tx.put_provider(p)?;
            }
            for w in workspaces {
                tx.put_workspace(w)?;
            }
            for r in rules {
                tx.put_rule(r)?;
            }
            Ok(())
        })?;
        self.refresh()
    }

    /// Stores inbound webhook configurations (`webhook_configs`, upserts in one transaction)
    /// and refreshes the snapshot. Providers post through one only when it is in their
    /// `allowed_webhooks` (see [`Engine::ingest_request`]).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn configure_webhooks(&self, webhooks: &[WebhookConfig]) -> Result<()> {
        with_tx(&*self.store, |tx| {
            for w in webhooks {
                tx.put_webhook_config(w)?;
            }
            Ok(())
        })?;
        self.refresh()
    }
}

fn upsert_by<T: Clone, K: PartialEq>(all: &mut Vec<T>, new: &[T], key: impl Fn(&T) -> K) {
    for n in new {
        match all.iter_mut().find(|a| key(a) == key(n)) {
            Some(slot) => *slot = n.clone(),
            None => all.push(n.clone()),
        }
    }
}
