//! Readers for configuration in the seed's JSON shapes: `providers.json`, `workspaces.json`
//! and `routing_rules.json` (the layout of the lead corpus in `data/corpus`).
//!
//! Money arrives in dollars (`payment_rate: 200`) and is stored in cents. A workspace's
//! `outbound_webhook_url` may contain a `{port}` placeholder; [`load_workspaces`] replaces
//! the `http://127.0.0.1:{port}` part with a base URL of the caller's choosing.

use crate::model::{Cents, Provider, RecordFormat, WebhookConfig, Workspace};
use crate::routing::RoutingRule;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Errors reading seed JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// The JSON does not have the expected shape.
    #[error("{file}: {message}")]
    Shape {
        /// Which document (`providers.json`, ...).
        file: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl SeedError {
    /// Stable snake_case code: `invalid_shape`.
    pub fn code(&self) -> &'static str {
        match self {
            SeedError::Shape { .. } => "invalid_shape",
        }
    }

    /// [`ErrorKind::InvalidInput`](crate::kind::ErrorKind::InvalidInput).
    pub fn kind(&self) -> crate::kind::ErrorKind {
        crate::kind::ErrorKind::InvalidInput
    }
}

#[derive(Deserialize)]
struct ProviderJson {
    provider_id: String,
    provider_name: Option<String>,
    #[serde(default)]
    lead_types: Vec<String>,
    format: RecordFormat,
    #[serde(default)]
    field_map: BTreeMap<String, String>,
    rate_limit_per_hour: Option<u32>,
    #[serde(default = "yes")]
    is_active: bool,
    /// The seed's plaintext key: hashed on load, never kept.
    api_key: Option<String>,
    /// `sha256:<hex>` of the provider's API key (never the key).
    api_key_hash: Option<String>,
    #[serde(default)]
    allowed_webhooks: Vec<String>,
    /// The provider's signing secret.
    webhook_secret: Option<String>,
    signature_scheme: Option<crate::auth::SignatureScheme>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct WorkspaceJson {
    id: String,
    name: Option<String>,
    outbound_webhook_url: String,
    #[serde(default = "yes")]
    webhook_active: bool,
    business_type: Option<String>,
    payment_rate: f64,
    timezone: Option<String>,
    webhook_secret: Option<String>,
    duplicate_window_days: Option<u32>,
    #[serde(default)]
    capacity: crate::capacity::Capacity,
    #[serde(default)]
    schedule: Option<crate::schedule::WeeklySchedule>,
    #[serde(default)]
    delivery: crate::model::DeliveryOptions,
    #[serde(default)]
    require_consent: bool,
    /// The return policy (absent: the default, auto-approve with no limits).
    #[serde(default)]
    returns: crate::model::ReturnPolicy,
    /// Confirmations and reminders (opt-in).
    #[serde(default)]
    messages: Option<crate::model::MessagePolicy>,
    /// The booking calendar.
    #[serde(default)]
    calendar: Option<crate::model::Calendar>,
}

fn shape(file: &'static str) -> impl Fn(serde_json::Error) -> SeedError {
    move |e| SeedError::Shape {
        file,
        message: e.to_string(),
    }
}

/// Reads `providers.json`: an array of `{provider_id, provider_name, lead_types, format,
/// field_map, rate_limit_per_hour, ...}`. Lead types are lowercased. Credentials in the file
/// (`api_key`, `webhook_secret`) are not part of [`Provider`] and are ignored here.
///
/// # Errors
///
/// [`SeedError::Shape`] when the JSON does not match.
pub fn load_providers(json: &str) -> Result<Vec<Provider>, SeedError> {
    let raw: Vec<ProviderJson> = serde_json::from_str(json).map_err(shape("providers.json"))?;
    Ok(raw
        .into_iter()
        .map(|p| Provider {
            name: p.provider_name.unwrap_or_else(|| p.provider_id.clone()),
            id: p.provider_id,
            lead_types: p
                .lead_types
                .iter()
                .map(|t| t.trim().to_ascii_lowercase())
                .collect(),
            format: p.format,
            field_map: p.field_map,
            rate_limit_per_hour: p.rate_limit_per_hour,
            is_active: p.is_active,
            api_key_hash: p
                .api_key_hash
                .or_else(|| p.api_key.as_deref().map(crate::auth::hash_api_key)),
            allowed_webhooks: p.allowed_webhooks,
            signing_secret: p.webhook_secret.filter(|s| !s.is_empty()),
            signature_scheme: p
                .signature_scheme
                .unwrap_or(crate::auth::SignatureScheme::GitHub),
        })
        .collect())
}

#[derive(Deserialize)]
struct WebhookConfigJson {
    id: String,
    name: Option<String>,
    lead_type: Option<String>,
    /// The seed's column name; `secret` is accepted too.
    #[serde(alias = "secret")]
    webhook_secret: Option<String>,
    signature_scheme: Option<crate::auth::SignatureScheme>,
    rate_limit: Option<u32>,
    /// Seconds.
    rate_window: Option<u32>,
    #[serde(default = "yes")]
    is_active: bool,
    /// A Cal.com booking webhook's settings.
    #[serde(default)]
    calcom: Option<crate::calcom::CalcomConfig>,
}

/// Reads inbound webhook configurations in the seed's `webhook_configs` shape: `id`,
/// `name`, `lead_type`, `webhook_secret` (or `secret`), `signature_scheme` (`github`,
/// `cal_com`, `standard_webhooks` (default), `stripe`), `rate_limit`, `rate_window`
/// (seconds, default 3600), `is_active` (default true). Lead types are lowercased.
///
/// # Errors
///
/// [`SeedError::Shape`] when the JSON does not match.
pub fn load_webhook_configs(json: &str) -> Result<Vec<WebhookConfig>, SeedError> {
    let raw: Vec<WebhookConfigJson> =
        serde_json::from_str(json).map_err(shape("webhook_configs.json"))?;
    Ok(raw
        .into_iter()
        .map(|w| WebhookConfig {
            name: w.name.unwrap_or_else(|| w.id.clone()),
            lead_type: w.lead_type.map(|t| t.trim().to_ascii_lowercase()),
            secret: w.webhook_secret.filter(|s| !s.is_empty()),
            signature_scheme: w
                .signature_scheme
                .unwrap_or(crate::auth::SignatureScheme::StandardWebhooks),
            rate_limit: w.rate_limit,
            rate_window_seconds: w.rate_window.unwrap_or(3600),
            is_active: w.is_active,
            calcom: w.calcom,
            id: w.id,
        })
        .collect())
}

/// The placeholder origin in the corpus's webhook URLs.
pub const URL_TEMPLATE_ORIGIN: &str = "http://127.0.0.1:{port}";

/// Reads `workspaces.json`. `webhook_base` (e.g. `http://127.0.0.1:8080`) replaces
/// [`URL_TEMPLATE_ORIGIN`] in webhook URLs; `payment_rate` dollars become cents.
///
/// # Errors
///
/// [`SeedError::Shape`] when the JSON does not match or a payment rate is not a finite
/// amount.
pub fn load_workspaces(json: &str, webhook_base: &str) -> Result<Vec<Workspace>, SeedError> {
    let raw: Vec<WorkspaceJson> = serde_json::from_str(json).map_err(shape("workspaces.json"))?;
    let base = webhook_base.trim_end_matches('/');
    raw.into_iter()
        .map(|w| {
            let payment_rate =
                Cents::from_dollars(w.payment_rate).ok_or_else(|| SeedError::Shape {
                    file: "workspaces.json",
                    message: format!("workspace {}: bad payment_rate", w.id),
                })?;
            Ok(Workspace {
                name: w.name.unwrap_or_else(|| w.id.clone()),
                outbound_webhook_url: w.outbound_webhook_url.replace(URL_TEMPLATE_ORIGIN, base),
                id: w.id,
                webhook_active: w.webhook_active,
                business_type: w.business_type,
                payment_rate,
                timezone: w.timezone,
                webhook_secret: w.webhook_secret.filter(|s| !s.is_empty()),
                duplicate_window_days: w.duplicate_window_days,
                capacity: w.capacity,
                schedule: w.schedule,
                delivery: w.delivery,
                require_consent: w.require_consent,
                returns: w.returns,
                messages: w.messages,
                calendar: w.calendar,
            })
        })
        .collect()
}

/// Reads `routing_rules.json`: an array of rules in the seed's shape.
///
/// # Errors
///
/// [`SeedError::Shape`] when the JSON does not match.
pub fn load_rules(json: &str) -> Result<Vec<RoutingRule>, SeedError> {
    serde_json::from_str(json).map_err(shape("routing_rules.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_seed_shapes() {
        let p = load_providers(
            r#"[{"provider_id":"provider-c","provider_name":"Provider C","lead_types":["Kitchen"],
                "api_key":"k","format":"csv","field_map":{"full_name":"name"}}]"#,
        )
        .unwrap();
        assert_eq!(p[0].lead_types, vec!["kitchen"]);
        assert_eq!(p[0].format, RecordFormat::Csv);
        assert!(p[0].is_active);
        // The plaintext key is hashed on load; only the hash is kept.
        assert_eq!(p[0].api_key_hash, Some(crate::auth::hash_api_key("k")));
        let w = load_webhook_configs(
            r#"[{"id":"wh_1","lead_type":"Solar","webhook_secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "rate_limit":10,"rate_window":60},{"id":"wh_2","signature_scheme":"github",
                "is_active":false}]"#,
        )
        .unwrap();
        assert_eq!(w[0].lead_type.as_deref(), Some("solar"));
        assert_eq!((w[0].rate_limit, w[0].rate_window_seconds), (Some(10), 60));
        assert_eq!(
            w[0].signature_scheme,
            crate::auth::SignatureScheme::StandardWebhooks
        );
        assert_eq!(w[1].signature_scheme, crate::auth::SignatureScheme::GitHub);
        assert!(!w[1].is_active && w[1].secret.is_none());
        let w = load_workspaces(
            r#"[{"id":"k1","outbound_webhook_url":"http://127.0.0.1:{port}/hooks/k1",
                "webhook_active":false,"payment_rate":175.5,"webhook_secret":""}]"#,
            "http://127.0.0.1:9000/",
        )
        .unwrap();
        assert_eq!(w[0].outbound_webhook_url, "http://127.0.0.1:9000/hooks/k1");
        assert_eq!(w[0].payment_rate, Cents(17550));
        assert_eq!(w[0].webhook_secret, None);
        assert!(!w[0].webhook_active);
        let r = load_rules(
            r#"[{"id":1,"workspace_id":"k1","product_types":["Kitchen"],"zip_codes":["08038"],
                "priority":1,"is_active":true,"notes":"x"}]"#,
        )
        .unwrap();
        assert_eq!(r[0].zip_codes, vec!["08038"]);
        assert!(load_rules("{}").is_err());
    }
}
