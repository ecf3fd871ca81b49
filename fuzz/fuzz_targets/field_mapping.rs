//! A provider record from arbitrary bytes, through intake and validation: split the body,
//! parse each record (`parse_fields`), map it to canonical terms with a field map
//! (`map_fields`), then validate it (`validate` / `validate_with`) against the bundled ZIP
//! table and a catalog of the seed's products.
//!
//! Input layout: the first byte chooses the case, the rest is the body (UTF-8, lossy).
//!
//! | bits of byte 0 | meaning |
//! | --- | --- |
//! | 0-1 | body: 0 JSON body (`split_json_body`), 1 CSV, 2 form, 3 the whole body as one JSON record |
//! | 2-3 | field map: provider A, B, C of `data/corpus/providers.json`, or 3: read from the body's first line, `canonical=source` pairs separated by `&` (that line is then not part of the body) |
//! | 4 | `require_phone` |
//! | 5 | `validate_with` (vertical rules of the seed, small field limits, no state check) instead of `validate` |
//! | 6 | allowed lead types: the provider's, or any |
//! | 7 | default phone region `GB` instead of `US` |
//!
//! Besides never panicking, the asserts check what intake and validation document: mapped
//! text is trimmed and never empty, a rejection has at least one reason, and an accepted lead
//! has an active ZIP from the table, a product of the catalog of an allowed lead type, an
//! E.164 phone (always, when one is required; else a valid email stands in for it).
#![no_main]

use leadroute_core::catalog::Catalog;
use leadroute_core::intake::{
    map_fields, parse_fields, split_csv, split_form, split_json_body, FieldMap, LeadInput,
    RawRecord, Split,
};
use leadroute_core::validate::{
    validate, validate_with, ValidationContext, ValidationOptions, VerticalRules,
};
use leadroute_core::zip::ZipTable;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// What every run shares, built once per process.
struct Fixture {
    catalog: Catalog,
    providers: [(FieldMap, Vec<String>); 3],
    strict_options: ValidationOptions,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // The seed's products (the workspaces' business types), with one alias.
        let mut catalog = Catalog::from_names([
            "Solar",
            "Battery",
            "HVAC",
            "Heat Pump",
            "Water Heater",
            "Kitchen",
            "Bath",
            "Roofing",
            "Windows",
            "Gutters",
            "Insurance",
            "Flooring",
            "Painting",
            "Plumbing",
            "Siding",
        ]);
        catalog.alias("PV", "Solar");
        // Warm the bundled ZIP table (~20 ms) outside the first timed run.
        assert!(!ZipTable::bundled().is_empty());
        let map = |pairs: &[(&str, &str)]| {
            FieldMap::new(
                pairs
                    .iter()
                    .map(|(c, s)| (c.to_string(), s.to_string()))
                    .collect(),
            )
        };
        let types = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let providers = [
            (
                map(&[
                    ("first_name", "first_name"),
                    ("last_name", "last_name"),
                    ("phone", "phone"),
                    ("email", "email"),
                    ("zip_code", "zip"),
                    ("product_type", "product"),
                    ("appointment_date", "appointment_date"),
                ]),
                types(&["solar", "battery"]),
            ),
            (
                map(&[
                    ("first_name", "FirstName"),
                    ("last_name", "LastName"),
                    ("phone", "PhoneNumber"),
                    ("email", "EmailAddress"),
                    ("zip_code", "PostalCode"),
                    ("product_type", "ServiceType"),
                    ("appointment_date", "ApptTime"),
                ]),
                types(&["hvac"]),
            ),
            (
                map(&[
                    ("full_name", "name"),
                    ("phone", "phone1"),
                    ("email", "email_address"),
                    ("zip_code", "zip5"),
                    ("product_type", "project"),
                    ("appointment_date", "appt"),
                ]),
                types(&["kitchen", "bath", "roofing", "windows", "insurance"]),
            ),
        ];
        let strict_options = ValidationOptions {
            vertical_rules: VerticalRules::seed_defaults(),
            max_field_chars: 64,
            max_long_field_chars: 256,
            check_state: false,
        };
        Fixture {
            catalog,
            providers,
            strict_options,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let text = String::from_utf8_lossy(rest);
    let mut body: &str = &text;

    let derived;
    let (map, lead_types) = match (sel >> 2) & 3 {
        3 => {
            let (line, tail) = body.split_once('\n').unwrap_or((body, ""));
            body = tail;
            let pairs: BTreeMap<String, String> = line
                .split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(c, s)| (c.to_string(), s.to_string()))
                .collect();
            derived = FieldMap::new(pairs);
            (&derived, &[][..])
        }
        i => {
            let (m, t) = &fx.providers[usize::from(i)];
            (m, &t[..])
        }
    };
    let ctx = ValidationContext {
        zips: ZipTable::bundled(),
        catalog: &fx.catalog,
        allowed_lead_types: if sel & 0x40 != 0 { lead_types } else { &[] },
        default_region: if sel & 0x80 != 0 { "GB" } else { "US" },
        require_phone: sel & 0x10 != 0,
    };

    let split = match sel & 3 {
        0 => split_json_body(body),
        1 => match split_csv(body) {
            Ok(s) => s,
            Err(_) => return,
        },
        2 => split_form(body),
        _ => Split {
            records: vec![RawRecord::Json(body.to_string())],
            blank_lines: 0,
        },
    };

    for record in &split.records {
        let Ok(fields) = parse_fields(record) else {
            continue;
        };
        let input = map_fields(fields, map);
        check_input(&input);
        let result = if sel & 0x20 != 0 {
            validate_with(&input, &ctx, &fx.strict_options)
        } else {
            validate(&input, &ctx)
        };
        match result {
            Err(e) => assert!(!e.reasons.is_empty(), "a rejection without a reason"),
            Ok(lead) => {
                let info = ctx
                    .zips
                    .get(lead.zip)
                    .expect("accepted ZIP is in the table");
                assert!(info.active, "accepted ZIP {} is inactive", lead.zip);
                assert_eq!(ctx.catalog.name(lead.product), lead.product_name);
                let lead_type = ctx.catalog.lead_type(lead.product);
                assert!(
                    ctx.allowed_lead_types.is_empty()
                        || ctx
                            .allowed_lead_types
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(lead_type)),
                    "lead type {lead_type} is not allowed"
                );
                match &lead.phone {
                    Some(p) => {
                        let s = p.number.as_str();
                        assert!(
                            s.starts_with('+') && s[1..].bytes().all(|c| c.is_ascii_digit()),
                            "{s}"
                        );
                    }
                    None => assert!(!ctx.require_phone && lead.email.is_some()),
                }
            }
        }
    }
});

/// `LeadInput`'s text is trimmed and empty text is `None`.
fn check_input(input: &LeadInput) {
    for (name, value) in input.text_fields() {
        if let Some(v) = value {
            assert!(!v.is_empty(), "{name} is empty but Some");
            assert_eq!(v, v.trim(), "{name} is not trimmed");
        }
    }
    if let Some(h) = &input.consent_hash {
        assert!(h.starts_with("sha256:") && h.len() == 71, "{h}");
        assert!(input.consent_text.is_some());
    }
}
