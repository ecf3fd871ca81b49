use super::*;
use crate::model::{ClockTime, OpenHours, Weekday};
use proptest::prelude::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

fn date(s: &str) -> Date {
    s.parse().expect("test date")
}

fn hours(days: &[Weekday], start: &str, end: &str) -> OpenHours {
    OpenHours {
        days: days.to_vec(),
        start: start.parse().unwrap(),
        end: end.parse().unwrap(),
    }
}

fn weekly(h: Vec<OpenHours>) -> WeeklySchedule {
    WeeklySchedule {
        timezone: None,
        hours: h,
    }
}

use Weekday::*;
const WEEKDAYS: &[Weekday] = &[Mon, Tue, Wed, Thu, Fri];
const NY: &str = "America/New_York";

/// Mon–Fri 09:00–17:00 in New York, 60-minute slots with a 15-minute buffer.
fn ny_calendar() -> Calendar {
    Calendar {
        slot_minutes: 60,
        buffer_minutes: 15,
        ..Calendar::default()
    }
}

fn ny_grid(calendar: &Calendar) -> SlotGrid {
    SlotGrid::compile(
        calendar,
        &weekly(vec![hours(WEEKDAYS, "09:00", "17:00")]),
        Some(NY),
    )
    .unwrap()
}

/// Far enough before every test range that lead time never matters.
fn long_ago() -> Timestamp {
    ts("2026-02-01T00:00:00Z")
}

/// A grid with a horizon long enough for every test range seen from [`long_ago`].
fn grid_in(zone: &str, h: Vec<OpenHours>, calendar: Calendar) -> SlotGrid {
    let calendar = Calendar {
        horizon_days: 400,
        ..calendar
    };
    SlotGrid::compile(&calendar, &weekly(h), Some(zone)).unwrap()
}

/// Each slot as (local date, local start `HH:MM`, local end `HH:MM`) in `zone`.
fn local(slots: &[Slot], zone: &str) -> Vec<(String, String, String)> {
    let tz = lookup_zone(zone).unwrap();
    let hm = |t: Timestamp| tz.to_datetime(t).strftime("%H:%M").to_string();
    slots
        .iter()
        .map(|s| {
            (
                tz.to_datetime(s.start).date().to_string(),
                hm(s.start),
                hm(s.end),
            )
        })
        .collect()
}

const NY_DAY: [&str; 6] = ["09:00", "10:15", "11:30", "12:45", "14:00", "15:15"];

/// The local start times of the slots on `day`.
fn starts_on(l: &[(String, String, String)], day: &str) -> Vec<String> {
    l.iter()
        .filter(|(d, _, _)| d == day)
        .map(|(_, s, _)| s.clone())
        .collect()
}

#[test]
fn business_week_in_new_york() {
    let cal = Calendar {
        horizon_days: 60,
        ..ny_calendar()
    };
    let grid = ny_grid(&cal);
    assert_eq!(grid.timezone(), NY);
    assert_eq!(grid.capacity(), 1);
    // Monday 2026-11-23 00:00 EST to the next Monday.
    let slots = grid.slots(
        ts("2026-11-23T05:00:00Z"),
        ts("2026-11-30T05:00:00Z"),
        ts("2026-11-01T12:00:00Z"),
    );
    assert_eq!(slots.len(), 5 * 6);
    let utc: Vec<Timestamp> = slots.iter().take(6).map(|s| s.start).collect();
    assert_eq!(
        utc,
        [
            "2026-11-23T14:00:00Z",
            "2026-11-23T15:15:00Z",
            "2026-11-23T16:30:00Z",
            "2026-11-23T17:45:00Z",
            "2026-11-23T19:00:00Z",
            "2026-11-23T20:15:00Z",
        ]
        .map(ts)
    );
    for s in &slots {
        assert_eq!(s.end.duration_since(s.start), SignedDuration::from_mins(60));
    }
    let l = local(&slots, NY);
    for day in 23..=27 {
        assert_eq!(starts_on(&l, &format!("2026-11-{day}")), NY_DAY);
    }
    // The last slot ends at 16:15, before the 17:00 closing; 16:30 + 60 would not fit.
    assert_eq!(l[5].2, "16:15");
    assert!(starts_on(&l, "2026-11-28").is_empty());
}

#[test]
fn dst_weeks_keep_local_times() {
    let grid = grid_in(NY, vec![hours(WEEKDAYS, "09:00", "17:00")], ny_calendar());
    // Spring forward on Sunday 2026-03-08: Friday is EST (UTC-5), Monday EDT (UTC-4).
    let slots = grid.slots(
        ts("2026-03-06T05:00:00Z"),
        ts("2026-03-10T04:00:00Z"),
        long_ago(),
    );
    let l = local(&slots, NY);
    assert_eq!(starts_on(&l, "2026-03-06"), NY_DAY);
    assert_eq!(starts_on(&l, "2026-03-09"), NY_DAY);
    assert_eq!(slots.len(), 12);
    assert_eq!(slots[0].start, ts("2026-03-06T14:00:00Z"));
    assert_eq!(slots[6].start, ts("2026-03-09T13:00:00Z"));
    // Fall back on Sunday 2026-11-01: Friday is EDT, Monday EST.
    let slots = grid.slots(
        ts("2026-10-30T04:00:00Z"),
        ts("2026-11-03T05:00:00Z"),
        long_ago(),
    );
    let l = local(&slots, NY);
    assert_eq!(starts_on(&l, "2026-10-30"), NY_DAY);
    assert_eq!(starts_on(&l, "2026-11-02"), NY_DAY);
    assert_eq!(slots[0].start, ts("2026-10-30T13:00:00Z"));
    assert_eq!(slots[6].start, ts("2026-11-02T14:00:00Z"));
    assert_eq!(slots[6].end, ts("2026-11-02T15:00:00Z"));
}

#[test]
fn spring_forward_gap_is_never_spanned() {
    let hourly = Calendar {
        slot_minutes: 60,
        ..Calendar::default()
    };
    // Sunday 2026-03-08 in New York: 02:00 EST jumps to 03:00 EDT (07:00Z).
    let sunday = (ts("2026-03-08T05:00:00Z"), ts("2026-03-09T04:00:00Z"));
    let grid = grid_in(NY, vec![hours(&[Sun], "00:00", "04:00")], hourly.clone());
    let slots = grid.slots(sunday.0, sunday.1, long_ago());
    // 00:00 EST, 01:00 EST (ends at the change, one real hour), no 02:00, 03:00 EDT.
    assert_eq!(
        slots,
        vec![
            Slot {
                start: ts("2026-03-08T05:00:00Z"),
                end: ts("2026-03-08T06:00:00Z")
            },
            Slot {
                start: ts("2026-03-08T06:00:00Z"),
                end: ts("2026-03-08T07:00:00Z")
            },
            Slot {
                start: ts("2026-03-08T07:00:00Z"),
                end: ts("2026-03-08T08:00:00Z")
            },
        ]
    );
    // A slot that would cross the change (01:30 EST to 03:30 EDT reads two hours) is not
    // offered, nor one starting in the gap (02:30); 03:30 EDT is.
    let grid = grid_in(NY, vec![hours(&[Sun], "01:30", "05:00")], hourly);
    let slots = grid.slots(sunday.0, sunday.1, long_ago());
    assert_eq!(
        local(&slots, NY),
        vec![("2026-03-08".into(), "03:30".into(), "04:30".into())]
    );
    let at = ts("2026-03-08T06:30:00Z"); // 01:30 EST, open but not a slot that day
    assert_eq!(
        grid.slot_at(at, long_ago()),
        Err(BookingError::NotASlot { start: at })
    );
    // The week after, 01:30 and 02:30 EDT are ordinary slots.
    let next = grid.slots(
        ts("2026-03-15T04:00:00Z"),
        ts("2026-03-16T04:00:00Z"),
        long_ago(),
    );
    assert_eq!(
        starts_on(&local(&next, NY), "2026-03-15"),
        ["01:30", "02:30", "03:30"]
    );
}

#[test]
fn fall_back_day_offers_each_local_time_once() {
    // Sunday 2026-11-01 in New York: 02:00 EDT goes back to 01:00 EST (06:00Z).
    let sunday = (ts("2026-11-01T04:00:00Z"), ts("2026-11-02T05:00:00Z"));
    let hourly = Calendar {
        slot_minutes: 60,
        ..Calendar::default()
    };
    let grid = grid_in(NY, vec![hours(&[Sun], "00:00", "04:00")], hourly);
    let starts: Vec<Timestamp> = grid
        .slots(sunday.0, sunday.1, long_ago())
        .iter()
        .map(|s| s.start)
        .collect();
    // 00:00 EDT, 01:00 EDT (ends at the change), 02:00 EST, 03:00 EST; 01:00 EST is idle.
    assert_eq!(
        starts,
        [
            "2026-11-01T04:00:00Z",
            "2026-11-01T05:00:00Z",
            "2026-11-01T07:00:00Z",
            "2026-11-01T08:00:00Z",
        ]
        .map(ts)
    );
    let second_one = ts("2026-11-01T06:00:00Z");
    assert_eq!(
        grid.slot_at(second_one, long_ago()).unwrap_err().code(),
        "not_a_slot"
    );
    // 45-minute slots: 01:30 EDT would run past the change, so 01:30 is at its second
    // occurrence (EST).
    let grid = grid_in(
        NY,
        vec![hours(&[Sun], "00:00", "03:00")],
        Calendar {
            slot_minutes: 45,
            ..Calendar::default()
        },
    );
    let slots = grid.slots(sunday.0, sunday.1, long_ago());
    let starts: Vec<Timestamp> = slots.iter().map(|s| s.start).collect();
    assert_eq!(
        starts,
        [
            "2026-11-01T04:00:00Z", // 00:00 EDT
            "2026-11-01T04:45:00Z", // 00:45 EDT
            "2026-11-01T06:30:00Z", // 01:30 EST
            "2026-11-01T07:15:00Z", // 02:15 EST
        ]
        .map(ts)
    );
    assert_eq!(
        starts_on(&local(&slots, NY), "2026-11-01"),
        ["00:00", "00:45", "01:30", "02:15"]
    );
    assert_eq!(
        grid.slot_at(ts("2026-11-01T06:30:00Z"), long_ago()),
        Ok(slots[2])
    );
    assert_eq!(
        grid.slot_at(ts("2026-11-01T05:30:00Z"), long_ago())
            .unwrap_err()
            .code(),
        "not_a_slot"
    );
}

#[test]
fn blackout_dates_are_skipped() {
    let cal = Calendar {
        blackout_dates: vec![date("2026-11-26"), date("2026-11-25"), date("2026-11-26")],
        ..ny_calendar()
    };
    let grid = ny_grid(&cal);
    let now = ts("2026-11-20T12:00:00Z");
    let slots = grid.slots(ts("2026-11-23T05:00:00Z"), ts("2026-11-30T05:00:00Z"), now);
    let l = local(&slots, NY);
    assert_eq!(slots.len(), 3 * 6);
    assert!(starts_on(&l, "2026-11-25").is_empty());
    assert!(starts_on(&l, "2026-11-26").is_empty());
    assert_eq!(starts_on(&l, "2026-11-27"), NY_DAY);
    let thanksgiving = ts("2026-11-26T14:00:00Z");
    let err = grid.slot_at(thanksgiving, now).unwrap_err();
    assert_eq!(
        err,
        BookingError::Blackout {
            date: date("2026-11-26")
        }
    );
    assert_eq!(
        (err.code(), err.kind()),
        ("blackout", ErrorKind::InvalidInput)
    );
    // The blackout is the local date: 2026-11-25 19:00 EST is 2026-11-26 00:00 UTC, and a
    // Wednesday-evening instant is refused as a blackout, not as closed.
    assert_eq!(
        grid.slot_at(ts("2026-11-26T00:00:00Z"), now)
            .unwrap_err()
            .code(),
        "blackout"
    );
}

#[test]
fn overnight_hours_blackout_the_start_date() {
    // Friday 22:00 to Saturday 02:00 UTC, hourly: the run continues past midnight.
    let grid = grid_in(
        "UTC",
        vec![hours(&[Fri], "22:00", "02:00")],
        Calendar {
            blackout_dates: vec![date("2026-11-28")],
            ..Calendar::default()
        },
    );
    let week = (ts("2026-11-16T00:00:00Z"), ts("2026-11-30T00:00:00Z"));
    let starts: Vec<Timestamp> = grid
        .slots(week.0, week.1, long_ago())
        .iter()
        .map(|s| s.start)
        .collect();
    assert_eq!(
        starts,
        [
            "2026-11-20T22:00:00Z",
            "2026-11-20T23:00:00Z",
            "2026-11-21T00:00:00Z",
            "2026-11-21T01:00:00Z",
            // Saturday 2026-11-28 is a blackout date: only Friday's part of the run.
            "2026-11-27T22:00:00Z",
            "2026-11-27T23:00:00Z",
        ]
        .map(ts)
    );
    assert!(grid.slot_at(ts("2026-11-21T01:00:00Z"), long_ago()).is_ok());
}

#[test]
fn always_open_starts_at_midnight() {
    let grid = grid_in(
        NY,
        Vec::new(),
        Calendar {
            slot_minutes: 240,
            buffer_minutes: 60,
            ..Calendar::default()
        },
    );
    let slots = grid.slots(
        ts("2026-11-23T05:00:00Z"),
        ts("2026-11-24T05:00:00Z"),
        long_ago(),
    );
    assert_eq!(
        starts_on(&local(&slots, NY), "2026-11-23"),
        ["00:00", "05:00", "10:00", "15:00", "20:00"]
    );
    assert_eq!(slots.len(), 5);
}

#[test]
fn lead_time_and_horizon() {
    let grid = ny_grid(&ny_calendar()); // 120 minutes' lead, 30 days
                                        // Monday 2026-11-23 09:30 EST.
    let now = ts("2026-11-23T14:30:00Z");
    assert_eq!(grid.earliest(now), ts("2026-11-23T16:30:00Z"));
    assert_eq!(grid.latest(now), ts("2026-12-23T14:30:00Z"));
    let all = grid.slots(now, ts("2027-01-31T00:00:00Z"), now);
    // Monday from 11:30 (exactly the earliest) …
    assert_eq!(all[0].start, ts("2026-11-23T16:30:00Z"));
    // … to Wednesday 2026-12-23 09:00 EST, before the horizon at 09:30.
    assert_eq!(all.last().unwrap().start, ts("2026-12-23T14:00:00Z"));
    assert_eq!(
        grid.slot_at(ts("2026-11-23T16:30:00Z"), now).unwrap().end,
        ts("2026-11-23T17:30:00Z")
    );
    assert_eq!(
        grid.slot_at(ts("2026-11-23T15:15:00Z"), now),
        Err(BookingError::TooSoon {
            start: ts("2026-11-23T15:15:00Z"),
            earliest: ts("2026-11-23T16:30:00Z"),
        })
    );
    assert_eq!(
        grid.slot_at(ts("2026-12-23T14:00:00Z"), now).unwrap().start,
        ts("2026-12-23T14:00:00Z")
    );
    let err = grid.slot_at(ts("2026-12-23T15:15:00Z"), now).unwrap_err();
    assert_eq!(
        err,
        BookingError::BeyondHorizon {
            start: ts("2026-12-23T15:15:00Z"),
            latest: ts("2026-12-23T14:30:00Z"),
        }
    );
    assert_eq!(err.code(), "beyond_horizon");
    // A range entirely before the earliest start, or after the horizon, has no slots.
    assert!(grid.slots(ts("2026-11-20T00:00:00Z"), now, now).is_empty());
    assert!(grid
        .slots(ts("2027-01-01T00:00:00Z"), ts("2027-01-08T00:00:00Z"), now)
        .is_empty());
}

#[test]
fn range_is_overlap_of_half_open_intervals() {
    let grid = ny_grid(&ny_calendar());
    let now = ts("2026-11-20T12:00:00Z");
    // From inside the 09:00 slot: it overlaps; to the 10:15 start: that one does not.
    let s = grid.slots(ts("2026-11-23T14:30:00Z"), ts("2026-11-23T15:15:00Z"), now);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].start, ts("2026-11-23T14:00:00Z"));
    // From the end of the 09:00 slot (in the buffer): only the next one.
    let s = grid.slots(ts("2026-11-23T15:00:00Z"), ts("2026-11-23T15:16:00Z"), now);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].start, ts("2026-11-23T15:15:00Z"));
    // Empty and reversed ranges.
    let t = ts("2026-11-23T15:00:00Z");
    assert!(grid.slots(t, t, now).is_empty());
    assert!(grid.slots(t, ts("2026-11-23T14:00:00Z"), now).is_empty());
    // Whole range of time: bounded by the horizon.
    assert_eq!(
        grid.slots(Timestamp::MIN, Timestamp::MAX, now).len(),
        grid.slots(now, grid.latest(now), now).len()
    );
}

#[test]
fn slot_at_errors() {
    let grid = ny_grid(&ny_calendar());
    let now = ts("2026-11-20T12:00:00Z");
    let ok = grid.slot_at(ts("2026-11-23T14:00:00Z"), now).unwrap();
    assert_eq!(
        ok,
        Slot {
            start: ts("2026-11-23T14:00:00Z"),
            end: ts("2026-11-23T15:00:00Z")
        }
    );
    // An equal instant written with an offset is the same slot.
    assert_eq!(grid.slot_at(ts("2026-11-23T09:00:00-05:00"), now), Ok(ok));
    let code = |s: &str| grid.slot_at(ts(s), now).unwrap_err().code();
    assert_eq!(code("2026-11-21T15:00:00Z"), "closed"); // Saturday
    assert_eq!(code("2026-11-23T22:00:00Z"), "closed"); // 17:00, the closing
    assert_eq!(code("2026-11-23T13:59:00Z"), "closed"); // 08:59
    assert_eq!(code("2026-11-23T14:30:00Z"), "not_a_slot"); // 09:30
    assert_eq!(code("2026-11-23T15:05:00Z"), "not_a_slot"); // 10:05, in the buffer
    assert_eq!(code("2026-11-23T21:15:00Z"), "not_a_slot"); // 16:15, no room to 17:00
    assert_eq!(code("2026-11-23T14:00:00.5Z"), "not_a_slot");
    assert_eq!(code("2026-11-23T14:00:01Z"), "not_a_slot");
    for s in [
        "2026-11-21T15:00:00Z",
        "2026-11-23T14:30:00Z",
        "2026-11-19T14:00:00Z",
    ] {
        let e = grid.slot_at(ts(s), now).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(!e.to_string().is_empty());
    }
    let taken = BookingError::SlotTaken { start: ok.start };
    assert_eq!(taken.code(), "slot_taken");
    assert_eq!(taken.kind(), ErrorKind::Conflict);
    assert!(taken.to_string().contains("fully booked"));
}

#[test]
fn compile_errors() {
    let h = weekly(vec![hours(WEEKDAYS, "09:00", "17:00")]);
    let code = |c: Calendar| SlotGrid::compile(&c, &h, Some(NY)).unwrap_err().code();
    let base = Calendar::default;
    assert_eq!(
        code(Calendar {
            slot_minutes: 0,
            ..base()
        }),
        "invalid_slot_length"
    );
    assert_eq!(
        code(Calendar {
            slot_minutes: 1441,
            ..base()
        }),
        "invalid_slot_length"
    );
    assert_eq!(
        code(Calendar {
            buffer_minutes: 1441,
            ..base()
        }),
        "invalid_buffer"
    );
    assert_eq!(
        code(Calendar {
            capacity: 0,
            ..base()
        }),
        "zero_capacity"
    );
    assert_eq!(
        code(Calendar {
            horizon_days: MAX_HORIZON_DAYS + 1,
            ..base()
        }),
        "horizon_too_long"
    );
    assert!(SlotGrid::compile(
        &Calendar {
            slot_minutes: 1440,
            buffer_minutes: 1440,
            horizon_days: MAX_HORIZON_DAYS,
            ..base()
        },
        &h,
        None
    )
    .is_ok());
    let err = SlotGrid::compile(&base(), &h, Some("Mars/Base")).unwrap_err();
    assert_eq!(
        err,
        BookingError::UnknownTimeZone {
            name: "Mars/Base".into()
        }
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let own_zone = WeeklySchedule {
        timezone: Some("Nowhere".into()),
        ..h.clone()
    };
    assert_eq!(
        SlotGrid::compile(&base(), &own_zone, Some(NY))
            .unwrap_err()
            .code(),
        "unknown_time_zone"
    );
    let empty = weekly(vec![hours(&[Mon], "09:00", "09:00")]);
    let err = SlotGrid::compile(&base(), &empty, None).unwrap_err();
    assert_eq!(
        (err.code(), err.kind()),
        ("empty_hours", ErrorKind::InvalidInput)
    );
    // The schedule's own zone wins; no zone at all is UTC.
    assert_eq!(
        SlotGrid::compile(&base(), &own_zone_ok(), Some(NY))
            .unwrap()
            .timezone(),
        "Asia/Kolkata"
    );
    assert_eq!(
        SlotGrid::compile(&base(), &h, None).unwrap().timezone(),
        "UTC"
    );
}

fn own_zone_ok() -> WeeklySchedule {
    WeeklySchedule {
        timezone: Some("Asia/Kolkata".into()),
        hours: vec![hours(WEEKDAYS, "09:00", "17:00")],
    }
}

#[test]
fn calendar_serde_defaults() {
    let c: Calendar = serde_json::from_str("{}").unwrap();
    assert_eq!(c, Calendar::default());
    assert_eq!(
        (
            c.slot_minutes,
            c.capacity,
            c.buffer_minutes,
            c.min_lead_minutes,
            c.horizon_days
        ),
        (60, 1, 0, 120, 30)
    );
    let c: Calendar =
        serde_json::from_str(r#"{"capacity": 3, "blackout_dates": ["2026-12-25"]}"#).unwrap();
    assert_eq!(c.capacity, 3);
    assert_eq!(c.blackout_dates, vec![date("2026-12-25")]);
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        serde_json::json!({"slot_minutes": 60, "capacity": 3, "buffer_minutes": 0,
            "min_lead_minutes": 120, "horizon_days": 30, "blackout_dates": ["2026-12-25"]})
    );
    assert!(serde_json::from_str::<Calendar>(r#"{"blackout_dates": ["2026-13-01"]}"#).is_err());
    let free = FreeSlot {
        start: ts("2026-11-23T14:00:00Z"),
        end: ts("2026-11-23T15:00:00Z"),
        remaining: 2,
    };
    assert_eq!(
        serde_json::to_value(free).unwrap(),
        serde_json::json!({"start": "2026-11-23T14:00:00Z", "end": "2026-11-23T15:00:00Z",
            "remaining": 2})
    );
}

#[test]
fn counter_keys() {
    let t = ts("2026-11-23T14:00:00Z");
    assert_eq!(
        slot_counter_key("roof_ny_001", t),
        "slot:roof_ny_001:2026-11-23T14:00:00Z"
    );
    // Offsets are normalized to UTC; a fraction of a second is dropped.
    assert_eq!(
        slot_counter_key("w", ts("2026-11-23T09:00:00.75-05:00")),
        "slot:w:2026-11-23T14:00:00Z"
    );
    assert_eq!(
        slot_counter_key("w", ts("0001-01-01T00:00:00Z")),
        "slot:w:0001-01-01T00:00:00Z"
    );
    assert_eq!(
        parse_slot_counter_key("slot:roof_ny_001:2026-11-23T14:00:00Z"),
        Some(("roof_ny_001", t))
    );
    // Ids may contain `:` and any text.
    assert_eq!(
        parse_slot_counter_key("slot:a:b:2026-11-23T14:00:00Z"),
        Some(("a:b", t))
    );
    assert_eq!(
        parse_slot_counter_key("slot:é:2026-11-23T14:00:00Z"),
        Some(("é", t))
    );
    assert_eq!(
        parse_slot_counter_key("slot::2026-11-23T14:00:00Z"),
        Some(("", t))
    );
    for bad in [
        "",
        "slot:",
        "slot:w",
        "cap:w:2026-11-23T14:00:00Z",
        "slot:w:2026-11-23T14:00:00.5Z",
        "slot:w:2026-11-23 14:00:00Z",
        "slot:w:2026-11-23T14:00:00+00:00",
        "slot:w-2026-11-23T14:00:00Z",
        "slot:w:2026-11-23T14:00:60Z",
        "slot:2026-11-23T14:00:00Z",
        "slot:éé2026-11-23T14:00:00Z",
    ] {
        assert_eq!(parse_slot_counter_key(bad), None, "{bad:?}");
    }
}

#[test]
fn key_range_covers_slot_starts() {
    let (lo, hi) = slot_key_range(
        "w",
        ts("2026-11-23T14:00:00.5Z"),
        ts("2026-11-23T16:00:00Z"),
    );
    assert_eq!(lo, "slot:w:2026-11-23T14:00:01Z");
    assert_eq!(hi, "slot:w:2026-11-23T16:00:00Z");
    let inside = |s: &str| {
        let k = slot_counter_key("w", ts(s));
        lo <= k && k < hi
    };
    assert!(!inside("2026-11-23T14:00:00Z"));
    assert!(inside("2026-11-23T14:00:01Z"));
    assert!(inside("2026-11-23T15:59:59Z"));
    assert!(!inside("2026-11-23T16:00:00Z"));
    // Another workspace's keys sort outside, except ids extending this one with `:`; those
    // are longer.
    for other in ["v", "x", "w2", "ww"] {
        let k = slot_counter_key(other, ts("2026-11-23T15:00:00Z"));
        assert!(!(lo <= k && k < hi), "{k}");
    }
    let k = slot_counter_key("w:2026-11-23T15", ts("2026-11-23T15:00:00Z"));
    assert!(lo <= k && k < hi && k.len() != lo.len());
}

#[test]
fn available_math() {
    let grid = ny_grid(&Calendar {
        capacity: 3,
        ..ny_calendar()
    });
    let now = ts("2026-11-20T12:00:00Z");
    let slots = grid.slots(ts("2026-11-23T05:00:00Z"), ts("2026-11-24T05:00:00Z"), now);
    assert_eq!(slots.len(), 6);
    // 09:00 has 1, 10:15 is full, 11:30 over-full (capacity lowered since), the rest free.
    let used = vec![
        (slots[0].start, 1),
        (slots[1].start, 3),
        (slots[2].start, 5),
        (ts("2026-11-23T14:30:00Z"), 9), // not a slot start: ignored
    ];
    let mut sorted = used.clone();
    sorted.sort();
    let free = available_sorted(&slots, &sorted, grid.capacity());
    let remaining: Vec<(Timestamp, u32)> = free.iter().map(|f| (f.start, f.remaining)).collect();
    assert_eq!(
        remaining,
        vec![
            (slots[0].start, 2),
            (slots[3].start, 3),
            (slots[4].start, 3),
            (slots[5].start, 3),
        ]
    );
    assert_eq!(free[0].end, slots[0].end);
    let by_fn = available(
        &slots,
        |t| used.iter().find(|(s, _)| *s == t).map_or(0, |u| u.1),
        grid.capacity(),
    );
    assert_eq!(by_fn, free);
    assert!(available(&slots, |_| 3, 3).is_empty());
    assert_eq!(available(&slots, |_| 0, 1).len(), 6);
    assert!(available(&[], |_| 0, 1).is_empty());
}

fn hours_strategy() -> impl Strategy<Value = OpenHours> {
    // Quarter-hour granularity, start before 24:00, end up to 24:00, start != end.
    (
        prop::collection::vec(prop::sample::select(Weekday::ALL.to_vec()), 1..4),
        0u16..96,
        1u16..=96,
    )
        .prop_filter("non-empty", |(_, s, e)| s != e)
        .prop_map(|(days, s, e)| OpenHours {
            days,
            start: ClockTime(s * 15),
            end: ClockTime(e * 15),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// For whole-second instants, key order is time order (and the key reads back); for
    /// any instants, an earlier one never has a later key.
    #[test]
    fn key_order_is_time_order(
        // 0000-01-01 .. 9999-12-31.
        a in -62_167_219_200i64..253_402_300_799,
        b in -62_167_219_200i64..253_402_300_799,
        na in 0i32..1_000_000_000,
        nb in 0i32..1_000_000_000,
        id in "[a-z0-9_:]{0,12}",
    ) {
        let (ta, tb) = (Timestamp::from_second(a).unwrap(), Timestamp::from_second(b).unwrap());
        let (ka, kb) = (slot_counter_key(&id, ta), slot_counter_key(&id, tb));
        prop_assert_eq!(ka.cmp(&kb), ta.cmp(&tb));
        prop_assert_eq!(ka.len(), "slot::".len() + id.len() + 20);
        prop_assert_eq!(parse_slot_counter_key(&ka), Some((id.as_str(), ta)));
        let fa = Timestamp::new(a, na).unwrap();
        let fb = Timestamp::new(b, nb).unwrap();
        if fa <= fb {
            prop_assert!(slot_counter_key(&id, fa) <= slot_counter_key(&id, fb));
        }
        // A whole-second start is in the range of [from, to) exactly when from <= t < to.
        let (lo, hi) = slot_key_range(&id, fa, fb);
        prop_assert_eq!(lo <= ka && ka < hi, fa <= ta && ta < fb);
    }

    /// Slots are ascending, disjoint, exactly `slot_minutes` long, in open hours, start on a
    /// whole local minute, and `slot_at` accepts each; around DST changes too.
    #[test]
    fn grid_invariants(
        (zone, change) in prop::sample::select(vec![
            ("America/New_York", 1_772_953_200i64), // 2026-03-08T07:00Z
            ("America/New_York", 1_793_512_800i64), // 2026-11-01T06:00Z
            ("Australia/Lord_Howe", 1_775_314_800i64), // 2026-04-04T15:00Z
            ("Australia/Lord_Howe", 1_791_041_400i64), // 2026-10-03T15:30Z
            ("Asia/Kolkata", 1_791_041_400i64),
            ("UTC", 1_791_041_400i64),
        ]),
        entries in prop::collection::vec(hours_strategy(), 0..3),
        slot_minutes in prop::sample::select(vec![15u32, 30, 45, 60, 90, 120, 480]),
        buffer_minutes in prop::sample::select(vec![0u32, 5, 15, 30]),
        delta in -3 * 86_400i64..3 * 86_400i64,
    ) {
        let calendar = Calendar { slot_minutes, buffer_minutes, ..Calendar::default() };
        let grid = grid_in(zone, entries.clone(), calendar);
        let schedule = weekly(entries).compile(Some(zone)).unwrap();
        let from = Timestamp::from_second(change + delta).unwrap();
        let to = from.checked_add(SignedDuration::from_hours(72)).unwrap();
        let now = long_ago();
        let slots = grid.slots(from, to, now);
        let tz = lookup_zone(zone).unwrap();
        for pair in slots.windows(2) {
            prop_assert!(pair[0].end <= pair[1].start, "{:?}", pair);
        }
        for s in &slots {
            prop_assert_eq!(
                s.end.duration_since(s.start),
                SignedDuration::from_mins(slot_minutes.into())
            );
            prop_assert!(s.end > from && s.start < to);
            prop_assert!(schedule.is_open(s.start).unwrap());
            prop_assert_eq!(tz.to_datetime(s.start).second(), 0);
            prop_assert_eq!(grid.slot_at(s.start, now), Ok(*s));
        }
    }
}
