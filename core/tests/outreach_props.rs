//! Property tests of outreach on the memory store with a fixed clock, over random leads and
//! random instants across 2026 (the US DST changes of March 8 and November 1 included):
//!
//! - no claimed lead is inside its quiet hours in its ZIP's zone or in any zone of its
//!   phone's area code (checked with a local-time computation of this file's own:
//!   8:00 ≤ local < 21:00, 20:00 for Florida and Maryland);
//! - no lead is claimed while another live lease holds it (several workers claiming at random
//!   times, some of them dying with their leads leased);
//! - attempts never exceed `max_attempts`;
//! - Florida, Oklahoma and Maryland leads get at most 3 attempts in any 24 hours;
//! - no pending reminder is due inside its recipient's quiet hours (workspaces with a
//!   message policy, appointments booked and moved at random times).
//!
//! ZIPs and phones come from the bundled ZIP table: a ZIP, and an area code listed for it or,
//! sometimes, one of a ZIP elsewhere; every case also has a Miami (33101, 305), an Oklahoma
//! City (73102, 405) and a Baltimore (21201, 410) lead.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use leadroute_core::engine::{FixedClock, Outcome};
use leadroute_core::intake::RawRecord;
use leadroute_core::lifecycle::Actor;
use leadroute_core::messages::MessagePolicy;
use leadroute_core::model::*;
use leadroute_core::routing::RoutingRule;
use leadroute_core::status::{ContactOutcome, MessageKind, MessageStatus};
use leadroute_core::storage::MemoryStore;
use leadroute_core::zip::{Zip5, ZipTable};
use leadroute_core::{Engine, EngineConfig};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

// ---- The places: this file's own view of the ZIP table ------------------------------------

/// An active ZIP of the bundled table with at least one area code.
#[derive(Debug)]
struct Place {
    zip: String,
    area_codes: Vec<u16>,
}

/// Per area code: the zones (known to the tz database) and states of every ZIP listing it.
#[derive(Debug, Default)]
struct AreaInfo {
    zones: BTreeSet<String>,
    states: BTreeSet<String>,
}

struct Tables {
    places: Vec<Place>,
    /// ZIP5 text → its zone, when the tz database knows it.
    zip_zones: HashMap<String, Option<String>>,
    areas: HashMap<u16, AreaInfo>,
}

fn known_zone(name: &str) -> bool {
    TimeZone::get(name).is_ok()
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let zips = ZipTable::bundled();
        let mut places = Vec::new();
        let mut zip_zones = HashMap::new();
        let mut areas: HashMap<u16, AreaInfo> = HashMap::new();
        let mut zone_ok: HashMap<String, bool> = HashMap::new();
        for n in 0..100_000u32 {
            let Some(info) = Zip5::from_u32(n).and_then(|z| zips.get(z)) else {
                continue;
            };
            let zone = info
                .timezone
                .as_deref()
                .map(str::to_string)
                .filter(|z| *zone_ok.entry(z.clone()).or_insert_with(|| known_zone(z)));
            for &npa in &info.area_codes {
                let a = areas.entry(npa).or_default();
                a.zones.extend(zone.clone());
                if !info.state.is_empty() {
                    a.states.insert(info.state.clone());
                }
            }
            let zip = format!("{n:05}");
            zip_zones.insert(zip.clone(), zone);
            if info.active && !info.area_codes.is_empty() {
                places.push(Place {
                    zip,
                    area_codes: info.area_codes.clone(),
                });
            }
        }
        Tables {
            places,
            zip_zones,
            areas,
        }
    })
}

/// The zones a lead at `zip` with `phone` (E.164) may be in, and the state whose rule
/// applies (the ZIP's, else the area code's when it serves one state).
fn zones_of(zip: &str, phone: &str) -> (Vec<String>, Option<String>) {
    let t = tables();
    let npa: Option<u16> = phone.strip_prefix("+1").and_then(|d| d[..3].parse().ok());
    let area = npa.and_then(|n| t.areas.get(&n));
    let mut zones: BTreeSet<String> = BTreeSet::new();
    zones.extend(t.zip_zones.get(zip).cloned().flatten());
    if let Some(a) = area {
        zones.extend(a.zones.iter().cloned());
    }
    let zip_state = Zip5::parse(zip)
        .ok()
        .and_then(|z| ZipTable::bundled().get(z))
        .map(|i| i.state.clone())
        .filter(|s| !s.is_empty());
    let state = zip_state.or_else(|| {
        area.filter(|a| a.states.len() == 1)
            .and_then(|a| a.states.iter().next().cloned())
    });
    (zones.into_iter().collect(), state)
}

/// Whether `at` is outside quiet hours in every one of `zones` (none: never).
fn allowed(zones: &[String], state: Option<&str>, at: Timestamp) -> Result<(), String> {
    if zones.is_empty() {
        return Err("no zone".into());
    }
    let end = match state {
        Some("FL" | "MD") => Time::constant(20, 0, 0, 0),
        _ => Time::constant(21, 0, 0, 0),
    };
    for z in zones {
        let local = at.to_zoned(TimeZone::get(z).unwrap());
        let time = local.time();
        if time < Time::constant(8, 0, 0, 0) || time >= end {
            return Err(format!("{local} in {z} (state {state:?})"));
        }
    }
    Ok(())
}

// ---- Strategies ---------------------------------------------------------------------------

/// A lead's place: an index into the places and the area code: one listed for the ZIP
/// (`None`) or, sometimes, the first one of another place.
type LeadSpec = (usize, Option<usize>, usize);

fn arb_lead() -> impl Strategy<Value = LeadSpec> {
    let n = tables().places.len();
    (0..n, prop::option::weighted(0.25, 0..n), any::<usize>())
}

/// The fixed leads of every case: (ZIP, area code).
const FIXED: [(&str, u16); 3] = [("33101", 305), ("73102", 405), ("21201", 410)];

/// 2026-01-01T00:00:00Z and the US DST changes of 2026: 2026-03-08T07:00:00Z (2:00 EST)
/// and 2026-11-01T06:00:00Z (2:00 EDT).
const YEAR_START: i64 = 1_767_225_600;
const DST_ON: i64 = 1_772_953_200;
const DST_OFF: i64 = 1_793_512_800;

/// An instant in 2026: anywhere in the year (up to 40 days before its end, so that a case's
/// run stays in 2026), or within 3 days of a DST change.
fn arb_instant() -> impl Strategy<Value = Timestamp> {
    let days3 = 3 * 86_400;
    prop_oneof![
        2 => YEAR_START..YEAR_START + 365 * 86_400 - 40 * 86_400,
        1 => DST_ON - days3..DST_ON + days3,
        1 => DST_OFF - days3..DST_OFF + days3,
    ]
    .prop_map(|s| Timestamp::from_second(s).unwrap())
}

/// A step of the simulation: wait `secs` (or, for one `fate` in four, until a lead held for
/// quiet hours is due again), then worker `worker` claims up to `limit` leads; `fate` picks
/// what happens to each claimed lead (no answer, another outcome, or the worker dies and
/// leaves it leased).
#[derive(Debug, Clone)]
struct Step {
    secs: i64,
    worker: usize,
    limit: usize,
    fate: u32,
}

fn arb_step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![
            3 => 60i64..3_600,
            2 => 3_600i64..6 * 3_600,
            1 => 6 * 3_600i64..30 * 3_600,
        ],
        0usize..3,
        1usize..=5,
        any::<u32>(),
    )
        .prop_map(|(secs, worker, limit, fate)| Step {
            secs,
            worker,
            limit,
            fate,
        })
}

// ---- The world ----------------------------------------------------------------------------

struct Lead {
    zip: String,
    phone: String,
}

struct World {
    engine: Engine,
    clock: Arc<FixedClock>,
    leads: HashMap<LeadId, Lead>,
    /// Every appointment and its lead, in booking order.
    appointments: Vec<(AppointmentId, LeadId)>,
}

/// The (ZIP, E.164 phone) of every lead of a case: the fixed ones, then the drawn ones,
/// numbered so that no two share a phone.
fn lead_places(specs: &[LeadSpec]) -> Vec<(String, String)> {
    let places = &tables().places;
    let mut out: Vec<(String, u16)> = FIXED.iter().map(|&(z, a)| (z.to_string(), a)).collect();
    for &(p, other, pick) in specs {
        let place = &places[p];
        let npa = match other {
            Some(o) => places[o].area_codes[0],
            None => place.area_codes[pick % place.area_codes.len()],
        };
        out.push((place.zip.clone(), npa));
    }
    out.into_iter()
        .enumerate()
        .map(|(i, (zip, npa))| (zip, format!("+1{npa}555{:04}", 100 + i)))
        .collect()
}

fn world(
    start: Timestamp,
    settings: QueueSettings,
    policy: Option<MessagePolicy>,
    zips: &[String],
) -> World {
    let clock = Arc::new(FixedClock::new(start));
    let mut config = EngineConfig {
        clock: clock.clone(),
        pipeline: false,
        ..EngineConfig::default()
    };
    config.contact_queue.settings = settings;
    let engine = Engine::new(Arc::new(MemoryStore::new()), config).unwrap();
    let ws = Workspace {
        messages: policy,
        ..Workspace::new("ws", "http://127.0.0.1:9/hooks/ws", Cents(10_000))
    };
    let rule = RoutingRule {
        id: 1,
        workspace_id: "ws".into(),
        product_types: vec!["Solar".into()],
        zip_codes: zips.to_vec(),
        priority: 1,
        is_active: true,
        notes: None,
        targeting: Default::default(),
        capacity: Default::default(),
    };
    let provider = Provider {
        lead_types: vec!["solar".into()],
        ..Provider::new("p")
    };
    engine.configure(&[provider], &[ws], &[rule]).unwrap();
    World {
        engine,
        clock,
        leads: HashMap::new(),
        appointments: Vec::new(),
    }
}

impl World {
    /// Ingests a lead now (with an appointment at `at` when given). `None` when the intake
    /// refuses it (an area code libphonenumber does not know).
    fn ingest(&mut self, n: usize, zip: &str, phone: &str, at: Option<Timestamp>) -> Option<()> {
        let appt = at
            .map(|a| format!(r#", "appointment_date": "{a}""#))
            .unwrap_or_default();
        let rec = RawRecord::Json(format!(
            r#"{{"lead_id": "L{n}", "phone": "{phone}", "zip_code": "{zip}", "product_type": "solar"{appt}}}"#
        ));
        let Outcome::Accepted(a) = self.engine.ingest("p", &rec).unwrap().outcome else {
            return None;
        };
        assert_eq!(a.duplicate_of, None);
        self.leads.insert(
            a.lead_id,
            Lead {
                zip: zip.to_string(),
                phone: phone.to_string(),
            },
        );
        if let Some((id, _)) = a.appointment {
            self.appointments.push((id, a.lead_id));
        }
        Some(())
    }
}

// ---- The contact queue --------------------------------------------------------------------

const DAY: SignedDuration = SignedDuration::from_hours(24);
const LEASE: SignedDuration = SignedDuration::from_mins(15);

/// The earliest time after `now` a lead held for quiet hours is due again.
fn held_until(w: &World, now: Timestamp) -> Option<Timestamp> {
    w.leads
        .keys()
        .filter_map(|&id| w.engine.contact_entry(id).unwrap())
        .filter(|e| e.hold_reason.as_deref() == Some("quiet_hours"))
        .map(|e| e.entry.next_attempt_at)
        .filter(|&t| t > now)
        .min()
}

/// Runs the steps and checks every claim; returns how many leads were claimed.
fn simulate(
    start: Timestamp,
    settings: QueueSettings,
    specs: &[LeadSpec],
    steps: &[Step],
) -> Result<usize, TestCaseError> {
    let places = lead_places(specs);
    let zips: Vec<String> = places.iter().map(|(z, _)| z.clone()).collect();
    let max_attempts = settings.max_attempts;
    let mut w = world(start, settings, None, &zips);
    for (i, (zip, phone)) in places.iter().enumerate() {
        let got = w.ingest(i, zip, phone, None);
        if i < FIXED.len() {
            prop_assert!(got.is_some(), "the fixed lead {zip} {phone} is accepted");
        }
    }
    // lead → (worker, lease end) of the lease a claim gave.
    let mut leases: HashMap<LeadId, (usize, Timestamp)> = HashMap::new();
    let mut attempts: HashMap<LeadId, Vec<Timestamp>> = HashMap::new();
    let mut claimed_total = 0;
    let mut now = start;
    for step in steps {
        now = match step.fate % 4 {
            // Sometimes exactly when a lead held for quiet hours is due again (the window's
            // edge in some zone).
            0 => held_until(&w, now).unwrap_or(now + SignedDuration::from_secs(step.secs)),
            _ => now + SignedDuration::from_secs(step.secs),
        };
        let claimed = w
            .engine
            .claim_contact_batch(Some(now), step.limit, &format!("w{}", step.worker))
            .unwrap();
        prop_assert!(claimed.len() <= step.limit);
        for (j, c) in claimed.iter().enumerate() {
            claimed_total += 1;
            let lead = &w.leads[&c.lead_id];
            prop_assert_eq!(&c.phone, &lead.phone);
            // Quiet hours, in every zone.
            let (zones, state) = zones_of(&lead.zip, &lead.phone);
            if let Err(why) = allowed(&zones, state.as_deref(), now) {
                return Err(TestCaseError::fail(format!(
                    "lead {} ({} {}) claimed at {now} in quiet hours: {why}",
                    c.lead_id, lead.zip, lead.phone
                )));
            }
            // One live lease at a time.
            if let Some(&(holder, until)) = leases.get(&c.lead_id) {
                prop_assert!(
                    until <= now,
                    "lead {} claimed by w{} at {now} while leased to w{holder} until {until}",
                    c.lead_id,
                    step.worker
                );
            }
            leases.insert(c.lead_id, (step.worker, now + LEASE));
            // Attempts.
            prop_assert!(
                c.attempts < max_attempts,
                "lead {} claimed after {} attempts (max {max_attempts})",
                c.lead_id,
                c.attempts
            );
            let done = attempts.entry(c.lead_id).or_default();
            prop_assert_eq!(c.attempts as usize, done.len());
            // What the worker does: mostly no answer; sometimes it dies with the lead leased.
            let fate = step.fate.rotate_left(4 * j as u32) % 16;
            let outcome = match fate {
                0..=10 => ContactOutcome::NoAnswer,
                11..=13 => continue,
                14 => ContactOutcome::Scheduled,
                _ => ContactOutcome::NotInterested,
            };
            let e = w
                .engine
                .record_contact_attempt(
                    c.lead_id,
                    outcome,
                    Some(now),
                    None,
                    Some(&format!("w{}", step.worker)),
                )
                .unwrap();
            leases.remove(&c.lead_id);
            done.push(now);
            prop_assert!(e.attempts <= max_attempts);
            prop_assert_eq!(e.attempts as usize, done.len());
        }
    }
    for (lead_id, lead) in &w.leads {
        let stored = w.engine.contact_attempts(*lead_id).unwrap();
        prop_assert!(stored.len() <= max_attempts as usize);
        let times: Vec<Timestamp> = stored.iter().map(|a| a.at).collect();
        prop_assert_eq!(&times, &attempts.get(lead_id).cloned().unwrap_or_default());
        let (_, state) = zones_of(&lead.zip, &lead.phone);
        if matches!(state.as_deref(), Some("FL" | "OK" | "MD")) {
            // Any 4 consecutive attempts span at least 24 hours.
            for win in times.windows(4) {
                prop_assert!(
                    win[3].duration_since(win[0]) >= DAY,
                    "lead {lead_id} in {state:?}: 4 attempts within 24 h: {win:?}"
                );
            }
        }
    }
    Ok(claimed_total)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The default settings (4 hours between attempts, 3 attempts) or random ones.
    #[test]
    fn claims_keep_quiet_hours_leases_and_attempt_caps(
        start in arb_instant(),
        specs in prop::collection::vec(arb_lead(), 3..12),
        steps in prop::collection::vec(arb_step(), 10..50),
        retry_minutes in prop_oneof![Just(240u32), 15u32..600],
        max_attempts in 1u32..6,
    ) {
        let settings = QueueSettings {
            retry_interval_seconds: retry_minutes * 60,
            max_attempts,
            ..QueueSettings::default()
        };
        simulate(start, settings, &specs, &steps)?;
    }

    /// An hour between attempts and up to 10 attempts: only the state caps stop Florida,
    /// Oklahoma and Maryland leads from a fourth call within 24 hours.
    #[test]
    fn state_caps_hold_in_every_24_hour_window(
        start in arb_instant(),
        specs in prop::collection::vec(arb_lead(), 0..4),
        steps in prop::collection::vec(
            (prop_oneof![1_800i64..3_600, 3_600i64..3 * 3_600], 0usize..3, any::<u32>())
                .prop_map(|(secs, worker, fate)| Step { secs, worker, limit: 5, fate }),
            40..90,
        ),
    ) {
        let settings = QueueSettings {
            retry_interval_seconds: 3_600,
            max_attempts: 10,
            ..QueueSettings::default()
        };
        let claimed = simulate(start, settings, &specs, &steps)?;
        prop_assert!(claimed > 0, "a case of {} steps claims something", steps.len());
    }
}

// ---- Reminders ----------------------------------------------------------------------------

/// A message policy: a confirmation or not and 1 to 4 reminder offsets.
fn arb_policy() -> impl Strategy<Value = MessagePolicy> {
    (
        any::<bool>(),
        prop::sample::subsequence(vec![10_080u32, 2_880, 1_440, 720, 180, 60, 30, 15], 1..=4),
    )
        .prop_map(|(confirmation, offsets)| MessagePolicy {
            confirmation,
            reminder_offsets_minutes: offsets,
            ..MessagePolicy::default()
        })
}

/// Checks every pending reminder of the world's appointments at `now`; returns how many.
fn check_reminders(w: &World, now: Timestamp) -> Result<usize, TestCaseError> {
    let mut n = 0;
    for &(id, lead_id) in &w.appointments {
        let lead = &w.leads[&lead_id];
        let (zones, state) = zones_of(&lead.zip, &lead.phone);
        for m in w.engine.messages(id).unwrap() {
            if m.status != MessageStatus::Pending || m.message.kind != MessageKind::Reminder {
                continue;
            }
            n += 1;
            prop_assert_eq!(&m.message.to, &lead.phone);
            if let Err(why) = allowed(&zones, state.as_deref(), m.message.send_at) {
                return Err(TestCaseError::fail(format!(
                    "appointment {id} ({} {}): reminder at {} in quiet hours: {why}",
                    lead.zip, lead.phone, m.message.send_at
                )));
            }
            // Moved earlier only, and after it was written.
            let body = &m.message.body;
            let start: Timestamp = body["start"].as_str().unwrap().parse().unwrap();
            let offset = body["offset_minutes"].as_i64().unwrap();
            prop_assert!(m.message.send_at <= start - SignedDuration::from_mins(offset));
            prop_assert!(m.message.send_at > m.message.created_at);
            prop_assert!(m.message.created_at <= now);
        }
    }
    Ok(n)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn reminders_are_never_due_in_quiet_hours(
        start in arb_instant(),
        policy in arb_policy(),
        specs in prop::collection::vec(arb_lead(), 2..8),
        // Per lead: the appointment's start after booking (minutes, up to 12 days), then
        // a move: the wait before it and the new start after it (minutes).
        times in prop::collection::vec(
            (30i64..17_280, prop::option::of((0i64..4_320, 30i64..17_280))),
            11,
        ),
    ) {
        let places = lead_places(&specs);
        let zips: Vec<String> = places.iter().map(|(z, _)| z.clone()).collect();
        let mut w = world(start, QueueSettings::default(), Some(policy), &zips);
        let mut now = start;
        for (i, (zip, phone)) in places.iter().enumerate() {
            now += SignedDuration::from_mins(7);
            w.clock.set(now);
            let at = now + SignedDuration::from_mins(times[i].0);
            let got = w.ingest(i, zip, phone, Some(at));
            if i < FIXED.len() {
                prop_assert!(got.is_some(), "the fixed lead {zip} {phone} is accepted");
            }
        }
        prop_assert!(w.appointments.len() >= FIXED.len(), "the fixed leads are routed");
        check_reminders(&w, now)?;
        // Moves, in booking order, each later than the one before.
        let appointments = w.appointments.clone();
        for (k, &(id, _)) in appointments.iter().enumerate() {
            let Some((wait, start_after)) = times[k].1 else { continue };
            now += SignedDuration::from_mins(wait);
            w.clock.set(now);
            let to = now + SignedDuration::from_mins(start_after);
            w.engine.reschedule_appointment(id, to, None, None, &Actor::Api).unwrap();
            check_reminders(&w, now)?;
        }
    }
}
