//! Providers, workspaces and routing rules (`lead_source_providers`, `workspaces`, `appointment_routing_rules`).

use super::*;

pub(super) const PROVIDER_COLS: &str =
    "id, name, lead_types, format, field_map, rate_limit_per_hour, \
                             is_active, api_key_hash, allowed_webhooks, signing_secret, \
                             signature_scheme";

pub(super) fn provider_row(r: &Row<'_>) -> Result<Provider, StorageError> {
    let c = Cols::new(r, "lead_source_providers");
    let format: String = c.get(3)?;
    let format = RecordFormat::parse(&format)
        .ok_or_else(|| corrupt(format!("lead_source_providers: unknown format {format:?}")))?;
    Ok(Provider {
        id: c.get(0)?,
        name: c.get(1)?,
        lead_types: c.json(2)?,
        format,
        field_map: c.json(4)?,
        rate_limit_per_hour: c.get(5)?,
        is_active: c.get(6)?,
        api_key_hash: c.get(7)?,
        allowed_webhooks: c.json(8)?,
        signing_secret: c.get(9)?,
        signature_scheme: {
            let s: String = c.get(10)?;
            leadroute_core::auth::SignatureScheme::parse(&s).ok_or_else(|| {
                corrupt(format!(
                    "lead_source_providers: unknown signature scheme {s:?}"
                ))
            })?
        },
    })
}

impl ProviderRepo for SqlTx<'_> {
    fn put_provider(&self, p: &Provider) -> Result<(), StorageError> {
        let r = (|| {
            // Only the configuration columns are replaced: total_leads and last_lead_at belong
            // to add_usage. A new row starts from the usage already counted for its id.
            self.exec(
                "INSERT INTO lead_source_providers (id, name, lead_types, format, field_map, \
                 rate_limit_per_hour, is_active, api_key_hash, allowed_webhooks, signing_secret, \
                 signature_scheme, total_leads, last_lead_at, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?10, ?11, ?12, \
                 (SELECT COALESCE(SUM(total_leads), 0) FROM provider_usage_log \
                  WHERE provider_id = ?1), \
                 (SELECT MAX(last_lead_at) FROM provider_usage_log WHERE provider_id = ?1), \
                 ?8, ?8) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 lead_types = excluded.lead_types, format = excluded.format, \
                 field_map = excluded.field_map, \
                 rate_limit_per_hour = excluded.rate_limit_per_hour, \
                 is_active = excluded.is_active, api_key_hash = excluded.api_key_hash, \
                 allowed_webhooks = excluded.allowed_webhooks, \
                 signing_secret = excluded.signing_secret, \
                 signature_scheme = excluded.signature_scheme, \
                 updated_at = excluded.updated_at",
                params![
                    p.id,
                    p.name,
                    json(&p.lead_types)?,
                    p.format.as_str(),
                    json(&p.field_map)?,
                    p.rate_limit_per_hour,
                    p.is_active,
                    now()?,
                    p.api_key_hash,
                    json(&p.allowed_webhooks)?,
                    p.signing_secret,
                    p.signature_scheme.as_str()
                ],
            )?;
            Ok(())
        })();
        in_op("put_provider", r)
    }

    fn provider(&self, id: &str) -> Result<Option<Provider>, StorageError> {
        self.one(
            &format!("SELECT {PROVIDER_COLS} FROM lead_source_providers WHERE id = ?1"),
            [id],
            provider_row,
        )
    }

    fn providers(&self) -> Result<Vec<Provider>, StorageError> {
        self.all(
            &format!("SELECT {PROVIDER_COLS} FROM lead_source_providers ORDER BY id"),
            [],
            provider_row,
        )
    }
}

pub(super) const WORKSPACE_COLS: &str =
    "id, name, outbound_webhook_url, webhook_active, business_type, \
                              payment_rate_cents, timezone, webhook_secret, duplicate_window_days, \
                              capacity, schedule, delivery, require_consent, return_policy, \
                              message_policy, calendar";

pub(super) fn workspace_row(r: &Row<'_>) -> Result<Workspace, StorageError> {
    let c = Cols::new(r, "workspaces");
    Ok(Workspace {
        id: c.get(0)?,
        name: c.get(1)?,
        outbound_webhook_url: c.get(2)?,
        webhook_active: c.get(3)?,
        business_type: c.get(4)?,
        payment_rate: Cents(c.get(5)?),
        timezone: c.get(6)?,
        webhook_secret: c.get(7)?,
        duplicate_window_days: c.get(8)?,
        capacity: c.json(9)?,
        schedule: match c.get::<Option<String>>(10)? {
            None => None,
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StorageError::corrupt(format!("workspaces.schedule: {e}")))?,
        },
        delivery: c.json(11)?,
        require_consent: c.get(12)?,
        returns: c.json(13)?,
        messages: json_opt(&c, 14, "workspaces.message_policy")?,
        calendar: json_opt(&c, 15, "workspaces.calendar")?,
    })
}

/// An optional JSON column.
fn json_opt<T: serde::de::DeserializeOwned>(
    c: &Cols<'_, '_>,
    i: usize,
    what: &str,
) -> Result<Option<T>, StorageError> {
    match c.get::<Option<String>>(i)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StorageError::corrupt(format!("{what}: {e}"))),
    }
}

impl WorkspaceRepo for SqlTx<'_> {
    fn put_workspace(&self, w: &Workspace) -> Result<(), StorageError> {
        let r = (|| {
            self.exec(
                "INSERT INTO workspaces (id, name, outbound_webhook_url, webhook_active, \
                 business_type, payment_rate_cents, timezone, webhook_secret, \
                 duplicate_window_days, capacity, schedule, delivery, require_consent, \
                 return_policy, message_policy, calendar, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                 ?10, ?10) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 outbound_webhook_url = excluded.outbound_webhook_url, \
                 webhook_active = excluded.webhook_active, \
                 business_type = excluded.business_type, \
                 payment_rate_cents = excluded.payment_rate_cents, \
                 timezone = excluded.timezone, webhook_secret = excluded.webhook_secret, \
                 duplicate_window_days = excluded.duplicate_window_days, \
                 capacity = excluded.capacity, schedule = excluded.schedule, \
                 delivery = excluded.delivery, require_consent = excluded.require_consent, \
                 return_policy = excluded.return_policy, \
                 message_policy = excluded.message_policy, calendar = excluded.calendar, \
                 updated_at = excluded.updated_at",
                params![
                    w.id,
                    w.name,
                    w.outbound_webhook_url,
                    w.webhook_active,
                    w.business_type,
                    w.payment_rate.0,
                    w.timezone,
                    w.webhook_secret,
                    w.duplicate_window_days,
                    now()?,
                    json(&w.capacity)?,
                    w.schedule.as_ref().map(json).transpose()?,
                    json(&w.delivery)?,
                    w.require_consent,
                    json(&w.returns)?,
                    w.messages.as_ref().map(json).transpose()?,
                    w.calendar.as_ref().map(json).transpose()?
                ],
            )?;
            Ok(())
        })();
        in_op("put_workspace", r)
    }

    fn workspace(&self, id: &str) -> Result<Option<Workspace>, StorageError> {
        self.one(
            &format!("SELECT {WORKSPACE_COLS} FROM workspaces WHERE id = ?1"),
            [id],
            workspace_row,
        )
    }

    fn workspaces(&self) -> Result<Vec<Workspace>, StorageError> {
        self.all(
            &format!("SELECT {WORKSPACE_COLS} FROM workspaces ORDER BY id"),
            [],
            workspace_row,
        )
    }
}

impl RuleRepo for SqlTx<'_> {
    fn put_rule(&self, rule: &RoutingRule) -> Result<(), StorageError> {
        let r = (|| {
            self.exec(
                "INSERT INTO appointment_routing_rules (id, workspace_id, product_types, \
                 zip_codes, priority, is_active, notes, targeting, capacity) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id, \
                 product_types = excluded.product_types, zip_codes = excluded.zip_codes, \
                 priority = excluded.priority, is_active = excluded.is_active, \
                 notes = excluded.notes, targeting = excluded.targeting, \
                 capacity = excluded.capacity",
                params![
                    rule.id,
                    rule.workspace_id,
                    json(&rule.product_types)?,
                    json(&rule.zip_codes)?,
                    rule.priority,
                    rule.is_active,
                    rule.notes,
                    json(&rule.targeting)?,
                    json(&rule.capacity)?
                ],
            )?;
            Ok(())
        })();
        in_op(&format!("put_rule {}", rule.id), r)
    }

    fn rules(&self) -> Result<Vec<RoutingRule>, StorageError> {
        self.all(
            "SELECT id, workspace_id, product_types, zip_codes, priority, is_active, notes, \
             targeting, capacity FROM appointment_routing_rules ORDER BY id",
            [],
            |r| {
                let c = Cols::new(r, "appointment_routing_rules");
                Ok(RoutingRule {
                    id: c.get(0)?,
                    workspace_id: c.get(1)?,
                    product_types: c.json(2)?,
                    zip_codes: c.json(3)?,
                    priority: c.get(4)?,
                    is_active: c.get(5)?,
                    notes: c.get(6)?,
                    targeting: c.json(7)?,
                    capacity: c.json(8)?,
                })
            },
        )
    }
}
