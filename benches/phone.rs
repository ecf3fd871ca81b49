//! Phone normalization: leadroute's [`phone::normalize`] beside the `phonenumber` crate's
//! parse + is_valid + format (libphonenumber's Rust port, metadata 9.0.33), in the same run,
//! on the corpus's phone mix (`data/corpus`: providers A and B JSON, provider C CSV).
//!
//! | group | functions | what |
//! | --- | --- | --- |
//! | `phone/nanp_shapes` | `leadroute`, `crate` | one valid and one invalid NANP number in 14 common shapes (28 inputs) |
//! | `phone/international` | `leadroute`, `crate` | `+<code> <number>` from 12 countries, each valid and with its last 4 characters cut (24 inputs) |
//! | `phone/corpus` | `leadroute`, `crate` | every corpus phone, fallbacks included, on 1 thread |
//! | `phone/corpus_2_threads` | `leadroute`, `crate` | the same phones over 2 threads, each taking every other phone |
//! | `phone/corpus_2_threads` | `leadroute_halves` | the same, split into first and second half |
//!
//! The 2-thread groups keep both threads for a whole criterion sample (`iter_custom`), so
//! they measure 2 threads' throughput, not thread start-up: spawning a thread per pass
//! costs about 30 µs, which is a third of a pass here and would hide the scaling.
//!
//! Throughput is in phone numbers. `cargo bench --bench phone -- --quick` runs it all quickly.
//! The first call in a fresh process (table vs metadata load) is not measurable here; time it
//! with `printf '317-863-8426\n' | target/release/examples/normalize` (see README).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leadroute::phone;
use phonenumber::Mode;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

fn corpus_phones() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("corpus file");
    let mut phones = Vec::new();
    for (name, key) in [
        ("provider_a.jsonl", "phone"),
        ("provider_b.jsonl", "PhoneNumber"),
    ] {
        for line in read(name).lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("json line");
            match &v[key] {
                serde_json::Value::String(s) => phones.push(s.clone()),
                serde_json::Value::Number(n) => phones.push(n.to_string()),
                _ => {}
            }
        }
    }
    let csv = read("provider_c.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "phone1")
        .expect("phone1 column");
    // The phone column has no quotes or commas; the quoted columns come before it.
    for line in lines {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => fields.push(std::mem::take(&mut field)),
                c => field.push(c),
            }
        }
        fields.push(field);
        if let Some(p) = fields.get(col).filter(|p| !p.is_empty()) {
            phones.push(p.clone());
        }
    }
    phones
}

/// The crate's parse + is_valid + format, with leadroute's one workaround (no default region
/// for `+` input; see docs/DESIGN.md).
fn crate_normalize(raw: &str) -> Option<String> {
    let plus = raw.trim().trim_start_matches("tel:").starts_with('+');
    let n = phonenumber::parse((!plus).then_some(phonenumber::country::US), raw).ok()?;
    phonenumber::is_valid(&n).then(|| n.format().mode(Mode::E164).to_string())
}

fn leadroute_normalize(raw: &str) -> Option<phone::PhoneNumber> {
    phone::normalize(raw, "US").ok().map(|p| p.number)
}

fn nanp_shapes() -> Vec<String> {
    let mut out = Vec::new();
    for d in ["3178638426", "1234567890"] {
        let (a, b, c) = (&d[..3], &d[3..6], &d[6..]);
        out.extend([
            d.to_string(),
            format!("({a}) {b}-{c}"),
            format!("{a}-{b}-{c}"),
            format!("{a}.{b}.{c}"),
            format!("{a} {b} {c}"),
            format!("1{d}"),
            format!("1-{a}-{b}-{c}"),
            format!("+1{d}"),
            format!("+1 ({a}) {b}-{c}"),
            format!("+1.{a}.{b}.{c}"),
            format!("tel:+1-{a}-{b}-{c}"),
            format!("{a}-{b}-{c} x123"),
            format!("({a}) {b}-{c} ext. 4567"),
            format!("tel:+1-{a}-{b}-{c};ext=89"),
        ]);
    }
    out
}

/// Numbers written `+<code> <number>` from 12 countries, valid and invalid (24 inputs): the
/// international fast path.
fn international() -> Vec<String> {
    [
        "+44 20 7946 0162",
        "+49 30 1234567",
        "+33 1 23 45 67 89",
        "+61 2 9374 4000",
        "+81 3-1234-5678",
        "+91 98765 43210",
        "+52 55 1234 5678",
        "+55 11 91234-5678",
        "+86 10 1234 5678",
        "+7 912 345 6789",
        "+34 912 345 678",
        "+39 06 6988 1234",
    ]
    .iter()
    .flat_map(|valid| [valid.to_string(), valid[..valid.len() - 4].to_string()])
    .collect()
}

fn run_all(phones: &[String], f: fn(&str) -> bool) -> u32 {
    phones.iter().map(|p| u32::from(f(black_box(p)))).sum()
}

/// Runs `part` `iters` times on each of 2 threads (one spawned, plus this one), and returns
/// the wall time until both are done. The threads live for the whole sample, so what is
/// measured is the throughput of 2 threads normalizing, not the cost of starting a thread
/// (about 30 µs here, a third of one pass over the corpus on one thread).
fn on_2_threads<'a>(
    iters: u64,
    parts: [&'a [String]; 2],
    step: usize,
    f: fn(&str) -> bool,
) -> Duration {
    let run = |part: &'a [String]| {
        let mut n = 0u32;
        for _ in 0..iters {
            n += part
                .iter()
                .step_by(step)
                .map(|p| u32::from(f(black_box(p))))
                .sum::<u32>();
        }
        black_box(n)
    };
    let start = Instant::now();
    std::thread::scope(|s| {
        let h = s.spawn(|| run(parts[0]));
        run(parts[1]);
        h.join().expect("thread");
    });
    start.elapsed()
}

/// Every other phone on each of 2 threads.
fn interleaved(phones: &[String], iters: u64, f: fn(&str) -> bool) -> Duration {
    on_2_threads(iters, [phones, &phones[1..]], 2, f)
}

/// The first half of the phones on one thread, the second on another.
fn halves(phones: &[String], iters: u64, f: fn(&str) -> bool) -> Duration {
    let (a, b) = phones.split_at(phones.len() / 2);
    on_2_threads(iters, [a, b], 1, f)
}

fn bench(c: &mut Criterion) {
    let phones = corpus_phones();
    let shapes = nanp_shapes();
    let intl = international();
    // The two must agree before they are timed.
    for p in phones.iter().chain(&shapes).chain(&intl) {
        let ours = leadroute_normalize(p).map(|n| n.to_string());
        assert_eq!(ours, crate_normalize(p), "{p:?}");
    }
    // Load the crate's metadata outside the timings.
    let _ = crate_normalize("3178638426");
    let ours: fn(&str) -> bool = |p| leadroute_normalize(p).is_some();
    let theirs: fn(&str) -> bool = |p| crate_normalize(p).is_some();

    let mut g = c.benchmark_group("phone/nanp_shapes");
    g.throughput(Throughput::Elements(shapes.len() as u64));
    g.bench_function("leadroute", |b| b.iter(|| run_all(&shapes, ours)));
    g.bench_function("crate", |b| b.iter(|| run_all(&shapes, theirs)));
    g.finish();

    let mut g = c.benchmark_group("phone/international");
    g.throughput(Throughput::Elements(intl.len() as u64));
    g.bench_function("leadroute", |b| b.iter(|| run_all(&intl, ours)));
    g.bench_function("crate", |b| b.iter(|| run_all(&intl, theirs)));
    g.finish();

    let mut g = c.benchmark_group("phone/corpus");
    g.throughput(Throughput::Elements(phones.len() as u64));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("leadroute", |b| b.iter(|| run_all(&phones, ours)));
    g.bench_function("crate", |b| b.iter(|| run_all(&phones, theirs)));
    g.finish();

    let mut g = c.benchmark_group("phone/corpus_2_threads");
    g.throughput(Throughput::Elements(phones.len() as u64));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("leadroute", |b| {
        b.iter_custom(|iters| interleaved(&phones, iters, ours))
    });
    g.bench_function("leadroute_halves", |b| {
        b.iter_custom(|iters| halves(&phones, iters, ours))
    });
    g.bench_function("crate", |b| {
        b.iter_custom(|iters| interleaved(&phones, iters, theirs))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
