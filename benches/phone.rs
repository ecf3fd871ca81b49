//! Phone normalization: leadroute's [`phone::normalize`] beside the `phonenumber` crate's
//! parse + is_valid + format (libphonenumber's Rust port, metadata 9.0.33), in the same run,
//! on the corpus's phone mix (`data/corpus`: providers A and B JSON, provider C CSV).
//!
//! | group | functions | what |
//! | --- | --- | --- |
//! | `phone/nanp_shapes` | `leadroute`, `crate` | one valid and one invalid NANP number in 14 common shapes (28 inputs) |
//! | `phone/corpus` | `leadroute`, `crate` | every corpus phone, fallbacks included, on 1 thread |
//! | `phone/corpus_2_threads` | `leadroute`, `crate` | the same phones over 2 threads (`std::thread::scope`), each taking every other phone |
//! | `phone/corpus_2_threads` | `leadroute_halves` | the same, split into first and second half |
//!
//! The two splits differ because the expensive inputs are not spread evenly: the few numbers
//! that fall back to the crate (e.g. `+44 20 7946 0xxx`, about 12 µs each against 25 ns for
//! a NANP number) are about half of the corpus's single-thread time, and more of them sit in
//! the second half of the file. Contiguous halves measure that skew (one thread idles while
//! the other finishes); interleaving gives both threads the same mix, and then each thread's
//! metadata database recompiles the regexes its 100-entry cache cannot keep (see README).
//!
//! Throughput is in phone numbers. `cargo bench --bench phone -- --quick` runs it all quickly.
//! The first call in a fresh process (table vs metadata load) is not measurable here; time it
//! with `printf '317-863-8426\n' | target/release/examples/normalize` (see README).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leadroute::phone;
use phonenumber::Mode;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

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
/// for `+` input; see DESIGN.md).
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

fn run_all(phones: &[String], f: fn(&str) -> bool) -> u32 {
    phones.iter().map(|p| u32::from(f(black_box(p)))).sum()
}

/// Every other phone on each of 2 threads.
fn run_2_threads(phones: &[String], f: fn(&str) -> bool) -> u32 {
    let half = |start: usize| {
        phones
            .iter()
            .skip(start)
            .step_by(2)
            .map(|p| u32::from(f(black_box(p))))
            .sum::<u32>()
    };
    std::thread::scope(|s| {
        let h = s.spawn(|| half(0));
        half(1) + h.join().expect("thread")
    })
}

/// The first half of the phones on one thread, the second on another.
fn run_2_threads_halves(phones: &[String], f: fn(&str) -> bool) -> u32 {
    let (a, b) = phones.split_at(phones.len() / 2);
    std::thread::scope(|s| {
        let h = s.spawn(|| run_all(a, f));
        run_all(b, f) + h.join().expect("thread")
    })
}

fn bench(c: &mut Criterion) {
    let phones = corpus_phones();
    let shapes = nanp_shapes();
    // The two must agree before they are timed.
    for p in phones.iter().chain(&shapes) {
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

    let mut g = c.benchmark_group("phone/corpus");
    g.throughput(Throughput::Elements(phones.len() as u64));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("leadroute", |b| b.iter(|| run_all(&phones, ours)));
    g.bench_function("crate", |b| b.iter(|| run_all(&phones, theirs)));
    g.finish();

    let mut g = c.benchmark_group("phone/corpus_2_threads");
    g.throughput(Throughput::Elements(phones.len() as u64));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("leadroute", |b| b.iter(|| run_2_threads(&phones, ours)));
    g.bench_function("leadroute_halves", |b| {
        b.iter(|| run_2_threads_halves(&phones, ours))
    });
    g.bench_function("crate", |b| b.iter(|| run_2_threads(&phones, theirs)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
