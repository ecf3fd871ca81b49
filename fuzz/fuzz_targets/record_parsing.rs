//! Arbitrary bytes as a provider body of every kind: JSON (an array, one value, or JSON
//! Lines), CSV (with its header row) and form-encoded. Each body is split into records
//! (`split_json_lines`, and `split` for every `RecordFormat`, i.e. `split_json_body`,
//! `split_csv`, `split_form`) and every record is parsed (`parse_fields`); the whole input is
//! also parsed as one record of each kind.
//!
//! Intake promises that nothing here panics on any input and that nothing is dropped; the
//! asserts check the latter where it is cheap to state.
#![no_main]

use leadroute_core::intake::{parse_fields, parse_form, split, split_json_lines, RawRecord, Split};
use leadroute_core::model::RecordFormat;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    let body: &str = &body;

    // JSON Lines: one record per non-blank line, blank lines counted.
    let jl = split_json_lines(body);
    assert_eq!(
        jl.records.len() + jl.blank_lines,
        body.lines().count(),
        "split_json_lines dropped a line"
    );
    parse_all(&jl, body);

    // A JSON request body (`split_json_body`): an array (one record per element), one value,
    // or else JSON Lines.
    let jb = split(RecordFormat::Json, body).expect("a JSON body always splits");
    if jb != jl {
        assert_eq!(
            jb.blank_lines, 0,
            "a whole-value JSON body has no blank line"
        );
    }
    parse_all(&jb, body);

    // CSV (`split_csv`): a header row, then one record per row, each row verbatim.
    if let Ok(s) = split(RecordFormat::Csv, body) {
        parse_all(&s, body);
    }

    // Form (`split_form`): the whole body is one record, unless it is blank.
    let form = split(RecordFormat::Form, body).expect("a form body always splits");
    assert_eq!(form.records.len() + form.blank_lines, 1);
    parse_all(&form, body);
    let _ = parse_form(body);

    // The whole input as one record of each kind, whatever the splitters make of it. The CSV
    // header comes from the input's first line (split on commas), the row from the rest.
    let _ = parse_fields(&RawRecord::Json(body.to_string()));
    let _ = parse_fields(&RawRecord::Form(body.to_string()));
    let (head, row) = body.split_once('\n').unwrap_or(("", body));
    let header: Arc<[String]> = head.split(',').map(str::to_string).collect();
    let _ = parse_fields(&RawRecord::Csv {
        header,
        row: row.to_string(),
    });
});

/// Records of one split that are parsed: each CSV row builds its own CSV reader, whose DFA
/// construction dominates the run time (about 75% with every row parsed), and later rows of
/// the same body add little coverage. Every record's text is still checked.
const MAX_PARSED: usize = 8;

/// Checks every record of a split and parses the first [`MAX_PARSED`]. A record's text is
/// not blank and is part of the body it came from, its content key is `sha256:` and 64 hex
/// digits, and a parsed CSV row has at most one field per column.
fn parse_all(s: &Split, body: &str) {
    for (i, r) in s.records.iter().enumerate() {
        assert!(!r.text().trim().is_empty(), "blank record {r:?}");
        assert!(
            body.contains(r.text()),
            "record text not in the body: {r:?}"
        );
        if i >= MAX_PARSED {
            continue;
        }
        let key = r.content_key();
        assert!(key.len() == 71 && key.starts_with("sha256:"), "{key}");
        let parsed = parse_fields(r);
        if let (Ok(fields), RawRecord::Csv { header, .. }) = (&parsed, r) {
            // Duplicate column names collapse into one field.
            assert!(fields.len() <= header.len());
        }
    }
}
