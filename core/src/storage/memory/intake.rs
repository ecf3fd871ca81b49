//! Inbound webhook configurations, replay protection and provider usage.

use super::*;

impl WebhookConfigRepo for MemTx {
    fn put_webhook_config(&self, config: &WebhookConfig) -> Result<(), StorageError> {
        self.write(|s| {
            let undo = put_undoable(
                &mut s.webhook_configs,
                config.id.clone(),
                config.clone(),
                |s| &mut s.webhook_configs,
            );
            Ok(((), undo))
        })
    }
    fn webhook_configs(&self) -> Result<Vec<WebhookConfig>, StorageError> {
        self.read(|s| s.webhook_configs.values().cloned().collect())
    }
}

impl IntakeRepo for MemTx {
    fn remember_message(
        &self,
        scope: &str,
        message_id: &str,
        at: Timestamp,
    ) -> Result<bool, StorageError> {
        self.write(|s| {
            let key = (scope.to_string(), message_id.to_string());
            if s.messages.contains_key(&key) {
                return Ok((false, Box::new(|_: &mut State| {}) as Undo));
            }
            let undo = put_undoable(&mut s.messages, key, at, |s| &mut s.messages);
            Ok((true, undo))
        })
    }
    fn add_usage(&self, delta: &ProviderUsage) -> Result<(), StorageError> {
        self.write(|s| {
            // Keyed as SQL keeps it: no webhook is the empty id.
            let webhook = delta.webhook_id.clone().unwrap_or_default();
            let key = (delta.provider_id.clone(), webhook, delta.day);
            let mut row = s.usage.get(&key).cloned().unwrap_or_else(|| ProviderUsage {
                provider_id: key.0.clone(),
                webhook_id: Some(key.1.clone()).filter(|w| !w.is_empty()),
                day: key.2,
                ..ProviderUsage::default()
            });
            row.requests += delta.requests;
            row.refused += delta.refused;
            row.total_leads += delta.total_leads;
            row.accepted += delta.accepted;
            row.rejected += delta.rejected;
            row.last_lead_at = row.last_lead_at.max(delta.last_lead_at);
            let undo = put_undoable(&mut s.usage, key, row, |s| &mut s.usage);
            Ok(((), undo))
        })
    }
}
