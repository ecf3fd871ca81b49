//! The main job: ingest a lead corpus into SQLite, route, deliver, bill, and print a summary.
//!
//! ```text
//! cargo run --release --example pipeline -- [--db FILE] [--data DIR] [--webhook-base URL] [--no-deliver]
//! ```
//!
//! - `--db FILE`: the SQLite database (default `leadroute.db`); rerunning on the same file
//!   stores nothing twice.
//! - `--data DIR`: a corpus directory (default: the 6,000-record sample in `data/corpus`;
//!   e.g. `../shared/data/corpus` for all 20,000 records).
//! - `--webhook-base URL`: deliver to `URL/hooks/<workspace>` instead of the loopback receiver.
//! - `--no-deliver`: stop once the outbox is written.

use leadroute::pipeline::{self, PipelineOptions};
use std::process::ExitCode;

const USAGE: &str = "usage: pipeline [--db FILE] [--data DIR] [--webhook-base URL] [--no-deliver]";

fn parse_args() -> Result<PipelineOptions, String> {
    let mut opts = PipelineOptions::new(pipeline::vendored_corpus());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--db" => opts.db = value("--db")?.into(),
            "--data" => opts.data = value("--data")?.into(),
            "--webhook-base" => opts.webhook_base = Some(value("--webhook-base")?),
            "--no-deliver" => opts.deliver = false,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("{msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    println!(
        "leadroute {} pipeline: data {}, database {}",
        leadroute::VERSION,
        opts.data.display(),
        opts.db.display()
    );
    match pipeline::run(&opts) {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error ({}): {e}", e.kind().as_str());
            ExitCode::FAILURE
        }
    }
}
