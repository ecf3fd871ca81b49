//! Dry-run routing of a batch: `product,zip` lines on stdin, one decision per line on stdout.
//!
//! ```sh
//! cargo run --release --example route -- data/corpus/routing_rules.json < queries.csv
//! ```
//!
//! `RULES.json` is a routing rule array in the seed's shape (`routing_rules.json`), optionally
//! with targeting fields (`states`, `zip3_prefixes`, `radius`, `excluded_zips`, `weight`).
//! Products are those the rules name (exact, case-insensitive). Each input line gives one
//! output line:
//!
//! - `workspace_id,rule_id` when a rule matched;
//! - `-,reason_code` otherwise: `unknown_product`, `no_rule_for_product`, `no_rule_for_zip`,
//!   `no_eligible_workspace`, or `bad_input` for a line that is not `product,zip` with a
//!   ZIP5 or ZIP+4.
//!
//! Output lines are in input order, one per input line, so they can be pasted beside the
//! input column.
//!
//! Options:
//!
//! - `--workspaces WORKSPACES.json`: the seed's workspace array; rules whose workspace is
//!   missing or whose webhook is inactive are skipped. Without it, every workspace a rule
//!   names is taken as active.
//! - `--policy lowest_id|weighted_round_robin|least_recently_routed`: the tie policy
//!   (default `lowest_id`); round-robin state carries over from line to line, as in a run of
//!   the engine.
//! - `--explain`: write one JSON object per input line instead, the full trace (every
//!   candidate with its status, excluded and inactive rules).
//! - `--overlaps`: print the overlap report (`rule_a,rule_b,product,priority,shared_zips,
//!   sample_zips`, sample ZIPs separated by spaces) and exit without reading stdin.

use jiff::Timestamp;
use leadroute::catalog::Catalog;
use leadroute::model::{Cents, Workspace};
use leadroute::routing::{MemoryTieState, NoGate, RoutingTable, TiePolicy};
use leadroute::seed::{load_rules, load_workspaces};
use leadroute::zip::{Zip5, ZipTable};
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: route RULES.json [--workspaces WORKSPACES.json] \
                     [--policy lowest_id|weighted_round_robin|least_recently_routed] \
                     [--explain] [--overlaps] < product,zip lines";

struct Args {
    rules: String,
    workspaces: Option<String>,
    policy: TiePolicy,
    explain: bool,
    overlaps: bool,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        rules: String::new(),
        workspaces: None,
        policy: TiePolicy::LowestId,
        explain: false,
        overlaps: false,
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--workspaces" => a.workspaces = Some(it.next().ok_or("--workspaces needs a file")?),
            "--policy" => {
                let p = it.next().ok_or("--policy needs a value")?;
                a.policy = TiePolicy::from_code(&p).ok_or(format!("unknown policy {p:?}"))?;
            }
            "--explain" => a.explain = true,
            "--overlaps" => a.overlaps = true,
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}\n{USAGE}")),
            s if a.rules.is_empty() => a.rules = s.to_string(),
            s => return Err(format!("unexpected argument {s:?}\n{USAGE}")),
        }
    }
    if a.rules.is_empty() {
        return Err(USAGE.into());
    }
    Ok(a)
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

/// Every workspace a rule names, active (when no workspace file is given).
fn all_active(rules: &[leadroute::routing::RoutingRule]) -> Vec<Workspace> {
    let mut ids: Vec<&str> = rules.iter().map(|r| r.workspace_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .map(|id| Workspace {
            id: id.into(),
            name: id.into(),
            outbound_webhook_url: "http://127.0.0.1:9".into(),
            webhook_active: true,
            business_type: None,
            payment_rate: Cents(0),
            timezone: None,
            webhook_secret: None,
            duplicate_window_days: None,
            capacity: Default::default(),
            schedule: None,
            delivery: Default::default(),
            require_consent: false,
            returns: Default::default(),
            messages: None,
            calendar: None,
        })
        .collect()
}

fn run() -> Result<(), String> {
    let a = args()?;
    let rules = load_rules(&read(&a.rules)?).map_err(|e| e.to_string())?;
    let workspaces = match &a.workspaces {
        Some(path) => {
            load_workspaces(&read(path)?, "http://127.0.0.1:9").map_err(|e| e.to_string())?
        }
        None => all_active(&rules),
    };
    let mut catalog = Catalog::new();
    for p in rules.iter().flat_map(|r| &r.product_types) {
        catalog.add(p, None);
    }
    let table = RoutingTable::compile_with(&rules, &workspaces, &catalog, ZipTable::bundled())
        .map_err(|e| e.to_string())?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let io = |e: std::io::Error| e.to_string();
    if a.overlaps {
        for o in table.overlaps() {
            writeln!(
                out,
                "{},{},{},{},{},{}",
                o.rule_ids.0,
                o.rule_ids.1,
                o.product,
                o.priority,
                o.shared_zips,
                o.sample_zips.join(" ")
            )
            .map_err(io)?;
        }
        return out.flush().map_err(io);
    }
    let mut state = MemoryTieState::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(io)?;
        let line = line.trim_end_matches('\r');
        let fields: Vec<&str> = line.split(',').collect();
        let parsed = match fields.as_slice() {
            [p, z] => Zip5::parse(z).ok().map(|zip| (p.trim(), zip)),
            _ => None,
        };
        let Some((product, zip)) = parsed else {
            if a.explain {
                let j = serde_json::json!({"input": line, "outcome": {"unrouted": "bad_input"}});
                writeln!(out, "{j}").map_err(io)?;
            } else {
                writeln!(out, "-,bad_input").map_err(io)?;
            }
            continue;
        };
        let now = Timestamp::now();
        let e = match catalog.lookup(product) {
            Some(pid) => table.decide_explained(pid, zip, a.policy, &mut state, &mut NoGate, now),
            None => table.explain(product, zip),
        };
        if a.explain {
            writeln!(out, "{}", e.to_json()).map_err(io)?;
            continue;
        }
        match e.outcome {
            Ok(m) => writeln!(out, "{},{}", m.workspace_id, m.rule_id),
            Err(reason) => writeln!(out, "-,{}", reason.code()),
        }
        .map_err(io)?;
    }
    out.flush().map_err(io)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("route: {e}");
            ExitCode::from(2)
        }
    }
}
