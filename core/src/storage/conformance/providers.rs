//! Providers, workspaces, routing rules and webhook configs: [`ProviderRepo`], [`WorkspaceRepo`],
//! [`RuleRepo`] and [`WebhookConfigRepo`] round trips and upserts.

use super::*;

/// `put_provider` upserts by id replacing every field; `provider` of a missing id is `None`;
/// `providers` is ordered by id.
pub fn providers_upsert_and_missing(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let missing = tx(s, "provider", |tx| Ok(tx.provider("provider-a")?));
    assert_eq!(missing, None, "provider() of a missing id must be Ok(None)");
    assert!(tx(s, "providers", |tx| Ok(tx.providers()?)).is_empty());

    let b = provider("provider-b");
    let mut a = provider("provider-a");
    tx(s, "put_provider", |tx| {
        tx.put_provider(&b)?;
        tx.put_provider(&a)?;
        Ok(())
    });
    assert_eq!(
        tx(s, "provider", |tx| Ok(tx.provider("provider-a")?)),
        Some(a.clone())
    );
    assert_eq!(
        tx(s, "providers", |tx| Ok(tx.providers()?)),
        vec![a.clone(), b.clone()],
        "providers() must return every provider ordered by id"
    );

    a.name = "Renamed Lead Co".into();
    a.lead_types = vec!["hvac".into()];
    a.format = RecordFormat::Csv;
    a.field_map.clear();
    a.rate_limit_per_hour = None;
    a.is_active = false;
    a.api_key_hash = None;
    a.allowed_webhooks.clear();
    a.signing_secret = None;
    a.signature_scheme = crate::auth::SignatureScheme::GitHub;
    tx(s, "put_provider (update)", |tx| Ok(tx.put_provider(&a)?));
    assert_eq!(
        tx(s, "provider", |tx| Ok(tx.provider("provider-a")?)),
        Some(a.clone()),
        "put_provider must replace every field of an existing provider"
    );
    assert_eq!(tx(s, "providers", |tx| Ok(tx.providers()?)), vec![a, b]);
}

/// `put_workspace` upserts by id replacing every field; missing ids are `None`; `workspaces`
/// is ordered by id.
pub fn workspaces_upsert_and_missing(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    assert_eq!(
        tx(s, "workspace", |tx| Ok(tx.workspace("solar_ca_001")?)),
        None
    );
    let mut solar = Workspace {
        duplicate_window_days: Some(45),
        ..workspace("solar_ca_001", Cents(20000))
    };
    // Zero (lead-level dedup off) is a value, not the same as None (the global window).
    let hvac = Workspace {
        duplicate_window_days: Some(0),
        ..workspace("hvac_tx_002", Cents(7550))
    };
    tx(s, "put_workspace", |tx| {
        tx.put_workspace(&solar)?;
        tx.put_workspace(&hvac)?;
        Ok(())
    });
    assert_eq!(
        tx(s, "workspace", |tx| Ok(tx.workspace("solar_ca_001")?)),
        Some(solar.clone()),
        "a stored workspace must read back unchanged (payment rate in cents, duplicate window)"
    );
    assert_eq!(
        tx(s, "workspaces", |tx| Ok(tx.workspaces()?)),
        vec![hvac.clone(), solar.clone()],
        "workspaces() must be ordered by id"
    );
    solar.name = "Golden State Solar".into();
    solar.outbound_webhook_url = "https://crm.goldenstate.example/hooks/appointments".into();
    solar.webhook_active = false;
    solar.business_type = None;
    solar.payment_rate = Cents(22550);
    solar.timezone = None;
    solar.webhook_secret = None;
    solar.duplicate_window_days = None;
    solar.require_consent = true;
    tx(s, "put_workspace (update)", |tx| {
        Ok(tx.put_workspace(&solar)?)
    });
    assert_eq!(
        tx(s, "workspace", |tx| Ok(tx.workspace("solar_ca_001")?)),
        Some(solar.clone()),
        "put_workspace must replace every field, including clearing optional ones"
    );
    assert_eq!(
        tx(s, "workspaces", |tx| Ok(tx.workspaces()?)),
        vec![hvac, solar],
        "workspaces() must read back every field, duplicate_window_days Some(0) included"
    );
}

/// `put_rule` upserts by id, needs its workspace (`Conflict` otherwise); `rules` returns
/// active and inactive rules ordered by id.
pub fn rules_upsert_order_and_workspace(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let orphan = rule(1, "solar_ca_001", 10);
    let r = tx(s, "put_rule", |tx| Ok(tx.put_rule(&orphan)));
    expect_conflict("put_rule with a missing workspace", r);
    assert!(tx(s, "rules", |tx| Ok(tx.rules()?)).is_empty());

    let r7 = rule(7, "solar_ca_001", 10);
    let r3 = rule(3, "solar_ca_001", 5);
    let mut r5 = rule(5, "solar_ca_001", 1);
    r5.is_active = false;
    r5.notes = None;
    // Targeting round-trips (the SQLite adapter stores it as JSON).
    r5.targeting.states = vec!["NV".into()];
    r5.targeting.radius = Some(crate::routing::Radius {
        zip: "22737".into(),
        miles: 150.5,
    });
    r5.targeting.excluded_zips = vec!["89101".into()];
    r5.targeting.weight = 3;
    tx(s, "put rules", |tx| {
        tx.put_workspace(&workspace("solar_ca_001", Cents(20000)))?;
        tx.put_workspace(&workspace("hvac_tx_002", Cents(7550)))?;
        tx.put_rule(&r7)?;
        tx.put_rule(&r3)?;
        tx.put_rule(&r5)?;
        Ok(())
    });
    assert_eq!(
        tx(s, "rules", |tx| Ok(tx.rules()?)),
        vec![r3.clone(), r5.clone(), r7.clone()],
        "rules() must return all rules, inactive ones too, ordered by id"
    );
    let mut r7b = r7.clone();
    r7b.workspace_id = "hvac_tx_002".into();
    r7b.priority = 2;
    r7b.zip_codes = vec!["73301".into()];
    r7b.product_types = vec!["HVAC".into()];
    tx(s, "put_rule (update)", |tx| Ok(tx.put_rule(&r7b)?));
    assert_eq!(
        tx(s, "rules", |tx| Ok(tx.rules()?)),
        vec![r3.clone(), r5.clone(), r7b.clone()],
        "put_rule must replace the rule with the same id"
    );
    let mut bad = r7b.clone();
    bad.workspace_id = "kitchen_va_000".into();
    let r = tx(s, "put_rule", |tx| Ok(tx.put_rule(&bad)));
    expect_conflict("put_rule moving a rule to a missing workspace", r);
    assert_eq!(
        tx(s, "rules", |tx| Ok(tx.rules()?)),
        vec![r3, r5, r7b],
        "a refused put_rule must leave the stored rule unchanged"
    );
}

/// A workspace's capacity, schedule and delivery options are stored and read back as given.
pub fn workspace_options_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let mut w = workspace("solar_ca_001", Cents(20000));
    w.capacity = serde_json::from_value(serde_json::json!({
        "caps": [{"period": "day", "limit": 5}],
        "budget": {"amount": 100000, "period": "month"}
    }))
    .expect("capacity fixture");
    w.schedule = Some(
        crate::schedule::WeeklySchedule::from_json(
            r#"{"hours": [{"days": ["mon", "tue"], "start": "08:00", "end": "18:30"}]}"#,
        )
        .expect("schedule fixture"),
    );
    w.delivery = serde_json::from_value(serde_json::json!({
        "rename": {"customer_phone": "phone"},
        "omit": ["notes"],
        "constants": {"source": "leadroute"},
        "envelope": true,
        "additional_secrets": ["whsec_bmV3LXNlY3JldC1rZXktMTIzNA=="]
    }))
    .expect("delivery fixture");
    w.messages = Some(crate::model::MessagePolicy {
        confirmation: false,
        reminder_offsets_minutes: vec![2880, 120],
        retry_backoff_seconds: vec![30],
    });
    w.calendar = Some(crate::model::Calendar {
        slot_minutes: 90,
        capacity: 3,
        buffer_minutes: 15,
        min_lead_minutes: 60,
        horizon_days: 14,
        blackout_dates: vec![jiff::civil::date(2026, 12, 25)],
    });
    tx(s, "put", |tx| Ok(tx.put_workspace(&w)?));
    let back = tx(s, "get", |tx| Ok(tx.workspace("solar_ca_001")?));
    assert_eq!(
        back,
        Some(w.clone()),
        "capacity, schedule, delivery options, messaging policy and calendar round-trip"
    );
    w.messages = None;
    w.calendar = None;
    tx(s, "put again", |tx| Ok(tx.put_workspace(&w)?));
    let cleared = tx(s, "get", |tx| Ok(tx.workspace("solar_ca_001")?));
    assert_eq!(
        cleared,
        Some(w),
        "options cleared by an upsert read back cleared"
    );
}

/// Every [`SignatureScheme`](crate::auth::SignatureScheme), for round trips.
const SCHEMES: [crate::auth::SignatureScheme; 4] = [
    crate::auth::SignatureScheme::GitHub,
    crate::auth::SignatureScheme::CalCom,
    crate::auth::SignatureScheme::StandardWebhooks,
    crate::auth::SignatureScheme::Stripe,
];

fn webhook_config(id: &str, scheme: crate::auth::SignatureScheme) -> WebhookConfig {
    WebhookConfig {
        id: id.into(),
        name: format!("Inbound {id}"),
        lead_type: Some("solar".into()),
        secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        signature_scheme: scheme,
        rate_limit: Some(120),
        rate_window_seconds: 60,
        is_active: true,
        calcom: None,
    }
}

/// `put_webhook_config` stores every field (each signature scheme, optional fields set and
/// empty) and upserts by id replacing every field; `webhook_configs` is ordered by id; a
/// rolled-back write leaves nothing.
pub fn webhook_configs_round_trip_and_upsert(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    assert!(
        tx(s, "webhook_configs", |tx| Ok(tx.webhook_configs()?)).is_empty(),
        "a new store has no webhook configs"
    );
    // Ids out of order on purpose; one config per scheme, the last one minimal.
    let mut configs: Vec<WebhookConfig> = ["wh_d", "wh_b", "wh_c", "wh_a"]
        .iter()
        .zip(SCHEMES)
        .map(|(id, scheme)| webhook_config(id, scheme))
        .collect();
    configs[3] = WebhookConfig {
        signature_scheme: crate::auth::SignatureScheme::Stripe,
        ..WebhookConfig::new("wh_a")
    };
    configs[1].is_active = false;
    configs[2].rate_window_seconds = 86_400;
    configs[2].rate_limit = Some(0);
    tx(s, "put_webhook_config", |tx| {
        for c in &configs {
            tx.put_webhook_config(c)?;
        }
        Ok(())
    });
    let mut sorted = configs.clone();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        tx(s, "webhook_configs", |tx| Ok(tx.webhook_configs()?)),
        sorted,
        "webhook configs must read back unchanged (every scheme, empty options), ordered by id"
    );

    // Upsert: every field replaced, options cleared and set.
    let mut d = configs[0].clone();
    d.name = "Renamed".into();
    d.lead_type = None;
    d.secret = None;
    d.signature_scheme = crate::auth::SignatureScheme::CalCom;
    d.calcom = Some({
        let mut c = crate::calcom::CalcomConfig::new("calcom-bookings");
        c.products
            .insert("solar-consultation".into(), "solar".into());
        c.products.insert("1187".into(), "solar".into());
        c.zip_field = "postal_code".into();
        c
    });
    d.rate_limit = None;
    d.rate_window_seconds = 3600;
    d.is_active = false;
    let mut a = configs[3].clone();
    a.lead_type = Some("hvac".into());
    a.secret = Some("github-secret".into());
    a.signature_scheme = crate::auth::SignatureScheme::GitHub;
    a.rate_limit = Some(10);
    tx(s, "put_webhook_config (update)", |tx| {
        tx.put_webhook_config(&d)?;
        Ok(tx.put_webhook_config(&a)?)
    });
    let after = tx(s, "webhook_configs", |tx| Ok(tx.webhook_configs()?));
    assert_eq!(
        after,
        vec![a.clone(), sorted[1].clone(), sorted[2].clone(), d.clone()],
        "put_webhook_config must replace every field of an existing config, adding no row"
    );

    let rolled = with_tx(s, |tx| {
        tx.put_webhook_config(&webhook_config(
            "wh_z",
            crate::auth::SignatureScheme::GitHub,
        ))?;
        tx.put_webhook_config(&WebhookConfig {
            is_active: true,
            ..d.clone()
        })?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "webhook_configs", |tx| Ok(tx.webhook_configs()?)),
        after,
        "a rolled-back put_webhook_config must leave every config as it was"
    );
}

/// A provider's intake fields round-trip: the `form` format, `api_key_hash` set and empty,
/// `allowed_webhooks` with several ids and none; re-putting a provider keeps its totals.
pub fn providers_intake_fields_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let form = Provider {
        format: RecordFormat::Form,
        ..provider("provider-f")
    };
    let bare = Provider {
        format: RecordFormat::Csv,
        ..Provider::new("provider-b")
    };
    tx(s, "put_provider", |tx| {
        tx.put_provider(&form)?;
        Ok(tx.put_provider(&bare)?)
    });
    assert_eq!(
        tx(s, "providers", |tx| Ok(tx.providers()?)),
        vec![bare.clone(), form.clone()],
        "format form, api_key_hash and allowed_webhooks must read back unchanged"
    );
    let usage = ProviderUsage {
        provider_id: "provider-f".into(),
        webhook_id: Some("wh_solar_ca".into()),
        day: jiff::civil::date(2025, 3, 14),
        requests: 1,
        total_leads: 3,
        accepted: 2,
        rejected: 1,
        last_lead_at: Some(at(5)),
        ..ProviderUsage::default()
    };
    tx(s, "add_usage", |tx| Ok(tx.add_usage(&usage)?));
    let rotated = Provider {
        api_key_hash: Some(
            "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752".into(),
        ),
        allowed_webhooks: vec!["wh_hvac_tx".into()],
        format: RecordFormat::Json,
        ..form.clone()
    };
    tx(s, "put_provider (rotate key)", |tx| {
        Ok(tx.put_provider(&rotated)?)
    });
    let (back, totals) = tx(s, "read", |tx| {
        Ok((
            tx.provider("provider-f")?,
            tx.reports().provider_totals("provider-f")?,
        ))
    });
    assert_eq!(
        back,
        Some(rotated),
        "put_provider must replace api_key_hash and allowed_webhooks"
    );
    assert_eq!(
        totals,
        (3, Some(at(5))),
        "put_provider must not reset a provider's totals"
    );
}

/// A workspace's `require_consent` round-trips and is replaced by `put_workspace`.
pub fn workspace_require_consent_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let strict = Workspace {
        require_consent: true,
        ..workspace("insurance_fl_003", Cents(4500))
    };
    let lax = workspace("solar_ca_001", Cents(20000));
    tx(s, "put_workspace", |tx| {
        tx.put_workspace(&strict)?;
        Ok(tx.put_workspace(&lax)?)
    });
    assert_eq!(
        tx(s, "workspaces", |tx| Ok(tx.workspaces()?)),
        vec![strict.clone(), lax.clone()],
        "require_consent must read back as stored"
    );
    let relaxed = Workspace {
        require_consent: false,
        ..strict
    };
    let tightened = Workspace {
        require_consent: true,
        ..lax
    };
    tx(s, "put_workspace (update)", |tx| {
        tx.put_workspace(&relaxed)?;
        Ok(tx.put_workspace(&tightened)?)
    });
    assert_eq!(
        tx(s, "workspaces", |tx| Ok(tx.workspaces()?)),
        vec![relaxed, tightened],
        "put_workspace must replace require_consent both ways"
    );
}
