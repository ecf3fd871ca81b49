//! Booking benchmarks: listing a week of free slots (`available_slots`) with leadroute's
//! compiled [`SlotGrid`] beside a naive minute-by-minute scan, in the same run.
//!
//! The calendar is busy: Monday–Friday 09:00–17:00 in `America/New_York`, 60-minute slots
//! (8 a day, 40 a week), capacity 3, and 40 booked slots (1, 2 or 3 bookings each, so a
//! third of them are full). The week is Monday 2026-11-16 to Monday 2026-11-23 (local), seen
//! from the Friday before.
//!
//! | group | function | what |
//! | --- | --- | --- |
//! | `available_week` | `slot_grid_sorted` | [`SlotGrid::slots`] for the week, then [`available_sorted`] over the bookings as a sorted `Vec` (binary search per slot) |
//! | `available_week` | `slot_grid_hashmap` | the same slots, then [`available`] with the bookings in a `HashMap` |
//! | `available_week` | `naive_minute_scan` | every minute of the week: [`CompiledSchedule::is_open`] at it and, at each opening-aligned candidate, at every minute of the slot; the bookings by linear scan |
//! | `available_week` | `engine_sqlite` | [`Engine::available_slots`](leadroute::Engine::available_slots) on an in-memory SQLite store: the grid, one range read of the slot counters, the free slots |
//! | `compile` | `slot_grid` | [`SlotGrid::compile`] of the calendar (once per workspace) |
//!
//! Before measuring, the run checks that the naive scan and the grid agree. The target is
//! `available_slots` for a week in at most 100 µs.
//!
//! `cargo bench --bench booking -- --quick` runs it in a few seconds.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use jiff::{SignedDuration, Timestamp};
use leadroute::booking::{available, available_sorted, FreeSlot, SlotGrid};
use leadroute::model::{Calendar, WeeklySchedule};
use leadroute::schedule::CompiledSchedule;

const CAPACITY: u32 = 3;
const ZONE: &str = "America/New_York";

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn hours() -> WeeklySchedule {
    WeeklySchedule::from_json(
        r#"{"hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]}"#,
    )
    .expect("hours")
}

fn calendar() -> Calendar {
    Calendar {
        slot_minutes: 60,
        capacity: CAPACITY,
        buffer_minutes: 0,
        ..Calendar::default()
    }
}

/// The naive answer: every whole minute of `[from, to)`, asking the compiled schedule.
/// Valid for a range that starts while closed and holds no DST change (true here).
fn naive(
    hours: &CompiledSchedule,
    cal: &Calendar,
    booked: &[(Timestamp, u32)],
    (from, to, now): (Timestamp, Timestamp, Timestamp),
) -> Vec<FreeSlot> {
    let minute = SignedDuration::from_mins(1);
    let slot = SignedDuration::from_mins(cal.slot_minutes.into());
    let step = i64::from(cal.slot_minutes + cal.buffer_minutes);
    let earliest = now + SignedDuration::from_mins(cal.min_lead_minutes.into());
    let latest = now + SignedDuration::from_hours(i64::from(cal.horizon_days) * 24);
    let open = |t: Timestamp| hours.is_open(t).expect("is_open");
    let mut out = Vec::new();
    let (mut t, mut was_open, mut opened) = (from, false, from);
    while t < to {
        let is_open = open(t);
        if is_open && !was_open {
            opened = t;
        }
        let aligned = (t.duration_since(opened).as_secs() / 60) % step == 0;
        if is_open && aligned && t >= earliest && t <= latest {
            let fits =
                (0..i64::from(cal.slot_minutes)).all(|k| open(t + SignedDuration::from_mins(k)));
            if fits {
                let used: u32 = booked
                    .iter()
                    .filter(|(s, _)| *s == t)
                    .map(|(_, u)| *u)
                    .sum();
                if used < cal.capacity {
                    out.push(FreeSlot {
                        start: t,
                        end: t + slot,
                        remaining: cal.capacity - used,
                    });
                }
            }
        }
        was_open = is_open;
        t += minute;
    }
    out
}

fn bench_available(cr: &mut Criterion) {
    let (hours, cal) = (hours(), calendar());
    let grid = SlotGrid::compile(&cal, &hours, Some(ZONE)).expect("grid");
    let compiled = hours.compile(Some(ZONE)).expect("schedule");
    let now = ts("2026-11-13T17:00:00Z");
    let (from, to) = (ts("2026-11-16T05:00:00Z"), ts("2026-11-23T05:00:00Z"));
    let slots = grid.slots(from, to, now);
    assert_eq!(slots.len(), 40, "8 slots a day, Monday to Friday");
    // 40 booked slots: 1, 2 or 3 bookings each.
    let booked: Vec<(Timestamp, u32)> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| (s.start, 1 + (i as u32 * 7) % CAPACITY))
        .collect();
    let by_start: HashMap<Timestamp, u32> = booked.iter().copied().collect();

    let week = || {
        let slots = grid.slots(black_box(from), black_box(to), black_box(now));
        available_sorted(&slots, &booked, grid.capacity())
    };
    let free = week();
    assert_eq!(free, naive(&compiled, &cal, &booked, (from, to, now)));
    eprintln!(
        "booking: {} slots in the week, {} booked, {} with room",
        slots.len(),
        booked.len(),
        free.len()
    );

    let mut g = cr.benchmark_group("available_week");
    g.bench_function("slot_grid_sorted", |b| b.iter(week));
    g.bench_function("slot_grid_hashmap", |b| {
        b.iter(|| {
            let slots = grid.slots(black_box(from), black_box(to), black_box(now));
            available(
                &slots,
                |t| by_start.get(&t).copied().unwrap_or(0),
                grid.capacity(),
            )
        })
    });
    g.bench_function("naive_minute_scan", |b| {
        b.iter(|| naive(&compiled, &cal, black_box(&booked), (from, to, now)))
    });
    let engine = engine_with(&hours, &cal, &booked, now);
    assert_eq!(
        engine.available_slots("ws", from, to).expect("available"),
        free,
        "the engine over SQLite agrees"
    );
    g.bench_function("engine_sqlite", |b| {
        b.iter(|| {
            engine
                .available_slots("ws", black_box(from), black_box(to))
                .expect("available")
        })
    });
    g.finish();

    let mut g = cr.benchmark_group("compile");
    g.bench_function("slot_grid", |b| {
        b.iter(|| SlotGrid::compile(black_box(&cal), &hours, Some(ZONE)).expect("grid"))
    });
    g.finish();
}

/// An engine on an in-memory SQLite store, its clock at `now`, with the calendar and the
/// bookings written as slot counters.
fn engine_with(
    hours: &WeeklySchedule,
    cal: &Calendar,
    booked: &[(Timestamp, u32)],
    now: Timestamp,
) -> leadroute::Engine {
    use leadroute::storage::with_tx;
    let store =
        std::sync::Arc::new(leadroute::sqlite::SqliteStore::open_in_memory().expect("store"));
    let config = leadroute::EngineConfig {
        clock: std::sync::Arc::new(leadroute::engine::FixedClock::new(now)),
        ..leadroute::EngineConfig::default()
    };
    let engine = leadroute::Engine::new(store, config).expect("engine");
    let ws = leadroute::model::Workspace {
        timezone: Some(ZONE.into()),
        schedule: Some(hours.clone()),
        calendar: Some(cal.clone()),
        ..leadroute::model::Workspace::new(
            "ws",
            "http://127.0.0.1:9/hooks/ws",
            leadroute::model::Cents(100),
        )
    };
    engine.configure(&[], &[ws], &[]).expect("configure");
    with_tx(&**engine.store(), |tx| {
        for (start, n) in booked {
            let key = leadroute::booking::slot_counter_key("ws", *start);
            tx.add_to_counter(&key, i64::from(*n), leadroute::model::Cents(0))?;
        }
        Ok(())
    })
    .expect("bookings");
    engine
}

criterion_group!(benches, bench_available);
criterion_main!(benches);
