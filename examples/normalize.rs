//! Normalizes phone numbers, one per line, from stdin to stdout: the tool to run over a column
//! of a CSV.
//!
//! ```sh
//! cut -d, -f10 data/corpus/provider_c.csv | cargo run --release --example normalize
//! cargo run --release --example normalize -- --region GB --strict --allow 44,1 < phones.txt
//! ```
//!
//! Each input line gives exactly one output line: the E.164 number (`+13178638426`), or `!`
//! followed by the reason code (`!invalid_number`, `!empty` for a blank line; the codes are
//! [`PhoneError::code`]). An extension, if any, follows after a tab. Lines that are not valid
//! UTF-8 are read lossily (invalid bytes become U+FFFD), never a crash.
//!
//! Options: `--region CC` (default region for numbers without a country code, default `US`),
//! `--strict` (reject fictional 555-01XX numbers and N11 exchanges), `--allow 1,44` (accept
//! only these country calling codes).

use leadroute::phone::{normalize_with, NormalizeOptions, PhoneError};
use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

fn options() -> Result<NormalizeOptions, String> {
    let mut opts = NormalizeOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--region" => opts.default_region = args.next().ok_or("--region needs a value")?,
            "--strict" => opts = opts.strict(true),
            "--allow" => {
                let list = args.next().ok_or("--allow needs a value")?;
                let codes = list
                    .split(',')
                    .map(|c| c.trim().trim_start_matches('+').parse::<u16>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("--allow {list}: {e}"))?;
                opts = opts.allowed_country_codes(codes);
            }
            "-h" | "--help" => {
                return Err(
                    "usage: normalize [--region CC] [--strict] [--allow 1,44] < phones".into(),
                )
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(opts)
}

fn run(opts: &NormalizeOptions) -> io::Result<()> {
    let stdin = io::stdin().lock();
    let mut out = BufWriter::new(io::stdout().lock());
    for line in stdin.split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let text = String::from_utf8_lossy(&line);
        match normalize_with(&text, opts) {
            Ok(p) => {
                out.write_all(p.number.as_str().as_bytes())?;
                if let Some(ext) = &p.extension {
                    write!(out, "\t{ext}")?;
                }
            }
            Err(e) => write!(out, "!{}", PhoneError::code(&e))?,
        }
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn main() -> ExitCode {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("normalize: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) ends the run quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("normalize: {e}");
            ExitCode::FAILURE
        }
    }
}
