//! After delivery: a disabled or paused endpoint is re-enabled.

use super::audit::Audit;
use super::{gate, Engine};
use crate::model::*;
use crate::status::LeadStatus;
use crate::storage::{with_tx, StorageError};
use crate::{Error, Result};

impl Engine {
    /// Re-enables a workspace's webhook endpoint (after a `410 Gone`, or to end a pause):
    /// its health is reset and every pending delivery to it is due now. Returns how many
    /// deliveries resume.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown workspace; storage errors.
    pub fn enable_endpoint(&self, workspace_id: &str) -> Result<u64> {
        if !self.snapshot().workspaces.contains_key(workspace_id) {
            return Err(Error::NotFound {
                entity: "workspace",
                id: workspace_id.to_string(),
            });
        }
        let at = self.now();
        with_tx(&*self.store, |tx| {
            tx.put_endpoint_health(workspace_id, &EndpointHealth::default())?;
            Ok(tx.resume_workspace_deliveries(workspace_id, at)?)
        })
    }
}
