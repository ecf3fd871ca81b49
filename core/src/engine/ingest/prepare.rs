//! The pure steps of intake: parse, map, validate, normalize. No store, no clock.

use super::Batch;
use crate::engine::{Engine, Snapshot};
use crate::intake::{self, RawRecord};
use crate::validate::{self, Reason, ReasonCode, ValidLead, ValidationContext};

/// A record after the pure steps, ready to be written.
pub(super) enum Prepared {
    Reject {
        record_key: String,
        reasons: Vec<Reason>,
    },
    Accept {
        record_key: String,
        lead: Box<ValidLead>,
        fields: serde_json::Value,
    },
}

/// The pure steps: parse, map, validate, normalize. Routing needs the store (tie state,
/// capacity counters) and happens in the write transaction.
pub(super) fn prepare(
    engine: &Engine,
    snap: &Snapshot,
    batch: &Batch<'_>,
    raw: &RawRecord,
) -> Prepared {
    let fields = match intake::parse_fields(raw) {
        Ok(f) => f,
        Err(e) => {
            return Prepared::Reject {
                record_key: raw.content_key(),
                reasons: vec![Reason {
                    code: ReasonCode::MalformedRecord,
                    detail: e.0,
                }],
            }
        }
    };
    let input = intake::map_fields(fields, batch.map);
    let record_key = input
        .external_id
        .clone()
        .unwrap_or_else(|| raw.content_key());
    let ctx = ValidationContext {
        zips: &engine.zips,
        catalog: snap.routing.catalog(),
        allowed_lead_types: batch.lead_types,
        default_region: &engine.config.default_region,
        require_phone: engine.config.require_phone,
    };
    let lead = match validate::validate_with(&input, &ctx, &engine.config.validation) {
        Ok(l) => l,
        Err(e) => {
            return Prepared::Reject {
                record_key,
                reasons: e.reasons,
            }
        }
    };
    let fields = lead_fields(&lead, input);
    Prepared::Accept {
        record_key,
        lead: Box::new(lead),
        fields,
    }
}

/// The `fields` object stored with a lead: the normalized core fields, then only the optional
/// groups the record carried (address, network, attribution, consent), then the provider's
/// unmapped fields under `custom`. Absent values are left out rather than stored as null.
pub(super) fn lead_fields(lead: &ValidLead, input: intake::LeadInput) -> serde_json::Value {
    fn put(map: &mut serde_json::Map<String, serde_json::Value>, key: &str, v: Option<&str>) {
        if let Some(v) = v {
            map.insert(key.to_string(), v.into());
        }
    }
    let mut out = serde_json::Map::new();
    put(&mut out, "first_name", lead.first_name.as_deref());
    put(&mut out, "last_name", lead.last_name.as_deref());
    put(
        &mut out,
        "phone",
        lead.phone.as_ref().map(|p| p.number.as_str()),
    );
    put(
        &mut out,
        "phone_extension",
        lead.phone.as_ref().and_then(|p| p.extension.as_deref()),
    );
    put(&mut out, "email", lead.email.as_deref());
    out.insert("zip_code".into(), lead.zip.to_string().into());
    out.insert("product_type".into(), lead.product_name.clone().into());
    for (key, v) in [
        ("address", &input.address),
        ("city", &input.city),
        ("state", &input.state),
        ("ip_address", &input.ip_address),
        ("user_agent", &input.user_agent),
    ] {
        put(&mut out, key, v.as_deref());
    }
    let mut attribution = serde_json::Map::new();
    for (key, v) in [
        ("utm_source", &input.utm_source),
        ("utm_medium", &input.utm_medium),
        ("utm_campaign", &input.utm_campaign),
        ("utm_term", &input.utm_term),
        ("utm_content", &input.utm_content),
        ("campaign_id", &input.campaign_id),
    ] {
        put(&mut attribution, key, v.as_deref());
    }
    if !attribution.is_empty() {
        out.insert("attribution".into(), attribution.into());
    }
    let mut consent = serde_json::Map::new();
    if let Some(v) = lead.tcpa_consent {
        consent.insert("consent_value".into(), v.into());
    }
    put(
        &mut consent,
        "consent_description",
        input.consent_text.as_deref(),
    );
    put(&mut consent, "consent_hash", input.consent_hash.as_deref());
    put(
        &mut consent,
        "certificate_url",
        input.consent_certificate_url.as_deref(),
    );
    if !consent.is_empty() {
        out.insert("consent".into(), consent.into());
    }
    out.insert("custom".into(), input.custom.into());
    out.into()
}
