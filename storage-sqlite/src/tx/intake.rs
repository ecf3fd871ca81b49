//! Intake: inbound webhook configurations, replay protection, provider usage (`webhook_configs`, `inbound_messages`, `provider_usage_log`).

use super::*;

pub(super) const WEBHOOK_CONFIG_COLS: &str =
    "id, name, lead_type, secret, signature_scheme, rate_limit, rate_window, is_active, calcom";

pub(super) fn webhook_config_row(r: &Row<'_>) -> Result<WebhookConfig, StorageError> {
    let c = Cols::new(r, "webhook_configs");
    let scheme: String = c.get(4)?;
    Ok(WebhookConfig {
        id: c.get(0)?,
        name: c.get(1)?,
        lead_type: c.get(2)?,
        secret: c.get(3)?,
        signature_scheme: leadroute_core::auth::SignatureScheme::parse(&scheme).ok_or_else(
            || {
                corrupt(format!(
                    "webhook_configs: unknown signature_scheme {scheme:?}"
                ))
            },
        )?,
        rate_limit: c.get(5)?,
        rate_window_seconds: c.get(6)?,
        is_active: c.get(7)?,
        calcom: c
            .get::<Option<String>>(8)?
            .map(|j| {
                serde_json::from_str(&j)
                    .map_err(|e| corrupt(format!("webhook_configs.calcom: {e}")))
            })
            .transpose()?,
    })
}

impl WebhookConfigRepo for SqlTx<'_> {
    fn put_webhook_config(&self, w: &WebhookConfig) -> Result<(), StorageError> {
        let r = (|| {
            self.exec(
                "INSERT INTO webhook_configs (id, name, lead_type, secret, signature_scheme, \
                 rate_limit, rate_window, is_active, created_at, updated_at, calcom) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 lead_type = excluded.lead_type, secret = excluded.secret, \
                 signature_scheme = excluded.signature_scheme, \
                 rate_limit = excluded.rate_limit, rate_window = excluded.rate_window, \
                 is_active = excluded.is_active, updated_at = excluded.updated_at, \
                 calcom = excluded.calcom",
                params![
                    w.id,
                    w.name,
                    w.lead_type,
                    w.secret,
                    w.signature_scheme.as_str(),
                    w.rate_limit,
                    w.rate_window_seconds,
                    w.is_active,
                    now()?,
                    w.calcom
                        .as_ref()
                        .map(serde_json::to_string)
                        .transpose()
                        .map_err(|e| {
                            StorageError::backend(format!("webhook_configs.calcom: {e}"))
                        })?
                ],
            )?;
            Ok(())
        })();
        in_op(&format!("put_webhook_config {}", w.id), r)
    }

    fn webhook_configs(&self) -> Result<Vec<WebhookConfig>, StorageError> {
        self.all(
            &format!("SELECT {WEBHOOK_CONFIG_COLS} FROM webhook_configs ORDER BY id"),
            [],
            webhook_config_row,
        )
    }
}

impl IntakeRepo for SqlTx<'_> {
    fn remember_message(
        &self,
        scope: &str,
        message_id: &str,
        at: Timestamp,
    ) -> Result<bool, StorageError> {
        // The primary key decides: whichever transaction inserts the row first sees it as
        // new, in this process or another.
        let n = self
            .exec(
                "INSERT INTO inbound_messages (scope, message_id, received_at) \
                 VALUES (?1, ?2, ?3) ON CONFLICT (scope, message_id) DO NOTHING",
                params![scope, message_id, ts(at)?],
            )
            .map_err(|e| prefix("remember_message", e))?;
        Ok(n == 1)
    }

    fn add_usage(&self, d: &ProviderUsage) -> Result<(), StorageError> {
        // The key columns keep their text: no webhook is `''`, the day is `YYYY-MM-DD`.
        let webhook_id = d.webhook_id.as_deref().unwrap_or("");
        let day = d.day.to_string();
        let r = self.atomic(|| {
            let last = ts_opt(d.last_lead_at)?;
            let total = int(d.total_leads, "total_leads")?;
            // max() of SQL is NULL when either side is: COALESCE keeps the one that is set.
            self.exec(
                "INSERT INTO provider_usage_log (provider_id, webhook_id, day, requests, \
                 refused, total_leads, accepted, rejected, last_lead_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (provider_id, day, webhook_id) DO UPDATE SET \
                 requests = requests + excluded.requests, \
                 refused = refused + excluded.refused, \
                 total_leads = total_leads + excluded.total_leads, \
                 accepted = accepted + excluded.accepted, \
                 rejected = rejected + excluded.rejected, \
                 last_lead_at = COALESCE(max(last_lead_at, excluded.last_lead_at), \
                                         last_lead_at, excluded.last_lead_at)",
                params![
                    d.provider_id,
                    webhook_id,
                    day,
                    int(d.requests, "requests")?,
                    int(d.refused, "refused")?,
                    total,
                    int(d.accepted, "accepted")?,
                    int(d.rejected, "rejected")?,
                    last
                ],
            )?;
            // The seed's running totals on the provider row, when there is one.
            self.exec(
                "UPDATE lead_source_providers SET total_leads = total_leads + ?2, \
                 last_lead_at = COALESCE(max(last_lead_at, ?3), last_lead_at, ?3) \
                 WHERE id = ?1",
                params![d.provider_id, total, last],
            )?;
            Ok(())
        });
        in_op(
            &format!(
                "add_usage for ({:?}, {:?}, {:?})",
                d.provider_id, webhook_id, day
            ),
            r,
        )
    }
}
