use super::*;
use proptest::prelude::*;

/// 2026-01-05T15:00:00Z plus `minutes`.
fn at(minutes: i64) -> Timestamp {
    Timestamp::from_second(1_767_625_200 + minutes * 60).unwrap()
}

/// A life in `status` at 15:00–15:30 UTC, with the fields that status can carry.
fn life_in(status: AppointmentStatus) -> Life {
    let mut life = Life::scheduled(at(0), Some(at(30)));
    life.status = status;
    match status {
        AppointmentStatus::Rescheduled => life.reschedule_count = 1,
        AppointmentStatus::Cancelled => life.cancellation_reason = Some("customer".into()),
        AppointmentStatus::Completed | AppointmentStatus::NoShow => {
            life.outcome = Some("quoted".into())
        }
        _ => {}
    }
    assert!(life.is_consistent());
    life
}

/// The five transitions of the table, the reschedule to a new time (one hour later).
fn transitions() -> [Transition; 5] {
    [
        Transition::Confirm,
        Transition::Reschedule {
            start: at(60),
            end: None,
        },
        Transition::Cancel {
            reason: Some("moved away".into()),
        },
        Transition::Complete { outcome: None },
        Transition::NoShow,
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Changed(AppointmentStatus),
    NoOp,
    Invalid,
}

#[test]
fn every_status_and_transition_pair_matches_the_table() {
    use AppointmentStatus as S;
    use Expect::{Changed as C, Invalid as X, NoOp as N};
    // Columns: confirm, reschedule (new time), cancel, complete, no-show.
    let table: [(S, [Expect; 5]); 6] = [
        (
            S::Scheduled,
            [
                C(S::Confirmed),
                C(S::Rescheduled),
                C(S::Cancelled),
                C(S::Completed),
                C(S::NoShow),
            ],
        ),
        (
            S::Confirmed,
            [
                N,
                C(S::Rescheduled),
                C(S::Cancelled),
                C(S::Completed),
                C(S::NoShow),
            ],
        ),
        (
            S::Rescheduled,
            [
                C(S::Confirmed),
                C(S::Rescheduled),
                C(S::Cancelled),
                C(S::Completed),
                C(S::NoShow),
            ],
        ),
        (S::Completed, [X, X, X, N, C(S::NoShow)]),
        (S::NoShow, [X, X, X, C(S::Completed), N]),
        (S::Cancelled, [X, X, N, X, X]),
    ];
    // The table covers every status exactly once.
    let mut covered: Vec<S> = table.iter().map(|(s, _)| *s).collect();
    covered.sort();
    let mut all = S::ALL.to_vec();
    all.sort();
    assert_eq!(covered, all);

    for (status, row) in table {
        let life = life_in(status);
        for (t, want) in transitions().iter().zip(row) {
            let got = match apply(&life, t) {
                Ok(Some(next)) => {
                    assert!(next.is_consistent(), "{status} + {}: {next:?}", t.name());
                    C(next.status)
                }
                Ok(None) => N,
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Conflict, "{status} + {}", t.name());
                    assert_eq!(e.code(), "invalid_transition");
                    X
                }
            };
            assert_eq!(got, want, "{status} + {}", t.name());
        }
    }
}

#[test]
fn a_change_carries_the_transition_fields() {
    let life = life_in(AppointmentStatus::Scheduled);
    let cancelled = apply(
        &life,
        &Transition::Cancel {
            reason: Some("moved away".into()),
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(cancelled.cancellation_reason.as_deref(), Some("moved away"));
    let done = apply(
        &life,
        &Transition::Complete {
            outcome: Some("sold".into()),
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(done.outcome.as_deref(), Some("sold"));
    // No outcome given keeps the one noted before (an outcome correction no_show → completed).
    let corrected = apply(
        &life_in(AppointmentStatus::NoShow),
        &Transition::Complete { outcome: None },
    )
    .unwrap()
    .unwrap();
    assert_eq!(corrected.outcome.as_deref(), Some("quoted"));
}

#[test]
fn reschedule_to_the_same_time_is_a_no_op() {
    for status in [
        AppointmentStatus::Scheduled,
        AppointmentStatus::Confirmed,
        AppointmentStatus::Rescheduled,
    ] {
        let life = life_in(status);
        let same = Transition::Reschedule {
            start: life.start,
            end: life.end,
        };
        assert_eq!(apply(&life, &same), Ok(None), "{status}");
        // Without an end, the kept duration gives the same end: still a no-op.
        let same_start = Transition::Reschedule {
            start: life.start,
            end: None,
        };
        assert_eq!(apply(&life, &same_start), Ok(None), "{status}");
    }
    // Without any end on either side.
    let open = Life::scheduled(at(0), None);
    let t = Transition::Reschedule {
        start: at(0),
        end: None,
    };
    assert_eq!(apply(&open, &t), Ok(None));
}

#[test]
fn reschedule_keeps_the_duration_when_end_is_none() {
    let life = Life::scheduled(at(0), Some(at(45)));
    let next = apply(
        &life,
        &Transition::Reschedule {
            start: at(120),
            end: None,
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(next.start, at(120));
    assert_eq!(next.end, Some(at(165)));
    // An open-ended appointment stays open-ended.
    let open = Life::scheduled(at(0), None);
    let next = apply(
        &open,
        &Transition::Reschedule {
            start: at(120),
            end: None,
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(next.end, None);
    // An explicit end wins over the kept duration.
    let next = apply(
        &life,
        &Transition::Reschedule {
            start: at(120),
            end: Some(at(130)),
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(next.end, Some(at(130)));
}

#[test]
fn reschedules_are_counted() {
    let mut life = Life::scheduled(at(0), Some(at(30)));
    for n in 1..=3u32 {
        life = apply(
            &life,
            &Transition::Reschedule {
                start: at(i64::from(n) * 60),
                end: None,
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(life.status, AppointmentStatus::Rescheduled);
        assert_eq!(life.reschedule_count, n);
        assert!(life.is_consistent());
    }
    // A confirmation keeps the count; a no-op reschedule does not add to it.
    let confirmed = apply(&life, &Transition::Confirm).unwrap().unwrap();
    assert_eq!(confirmed.reschedule_count, 3);
    let same = Transition::Reschedule {
        start: confirmed.start,
        end: None,
    };
    assert_eq!(apply(&confirmed, &same), Ok(None));
}

#[test]
fn end_before_start_is_an_error() {
    let life = life_in(AppointmentStatus::Scheduled);
    let err = apply(
        &life,
        &Transition::Reschedule {
            start: at(60),
            end: Some(at(59)),
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        LifecycleError::EndBeforeStart {
            start: at(60),
            end: at(59),
        }
    );
    assert_eq!(err.code(), "end_before_start");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // A zero-length appointment is allowed.
    assert!(apply(
        &life,
        &Transition::Reschedule {
            start: at(60),
            end: Some(at(60)),
        },
    )
    .is_ok());
}

#[test]
fn invalid_transition_is_a_conflict() {
    let err = apply(&life_in(AppointmentStatus::Cancelled), &Transition::Confirm).unwrap_err();
    assert_eq!(
        err,
        LifecycleError::InvalidTransition {
            from: AppointmentStatus::Cancelled,
            transition: "confirm",
        }
    );
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.code(), "invalid_transition");
    assert_eq!(
        err.to_string(),
        "cannot confirm an appointment that is cancelled"
    );
}

// ---- apply_all over identified sequences with re-deliveries ---------------------------

/// One transition with times within the first ten hours of the test day; reschedule ends
/// from 30 minutes before to two hours after the start (some end before their start).
fn transition() -> impl Strategy<Value = Transition> {
    prop_oneof![
        Just(Transition::Confirm),
        (0i64..600, prop::option::of(-30i64..120)).prop_map(|(s, d)| Transition::Reschedule {
            start: at(s),
            end: d.map(|d| at(s + d)),
        }),
        prop::option::of("[a-z]{1,8}").prop_map(|reason| Transition::Cancel { reason }),
        prop::option::of("[a-z]{1,8}").prop_map(|outcome| Transition::Complete { outcome }),
        Just(Transition::NoShow),
    ]
}

/// Distinct ids `e0`, `e1`, ... each with a random transition.
fn events() -> impl Strategy<Value = Vec<(String, Transition)>> {
    prop::collection::vec(transition(), 0..24).prop_map(|ts| {
        ts.into_iter()
            .enumerate()
            .map(|(i, t)| (format!("e{i}"), t))
            .collect()
    })
}

/// `base` with re-deliveries: each `(from, to)` copies the entry at `from` (modulo the
/// length) to a random later position.
fn with_redeliveries(
    base: &[(String, Transition)],
    dups: &[(usize, usize)],
) -> Vec<(String, Transition)> {
    let mut seq = base.to_vec();
    if seq.is_empty() {
        return seq;
    }
    for &(from, to) in dups {
        let i = from % seq.len();
        let pos = i + 1 + to % (seq.len() - i);
        let copy = seq[i].clone();
        seq.insert(pos, copy);
    }
    seq
}

/// The first occurrence of each id, in order.
fn first_occurrences(seq: &[(String, Transition)]) -> Vec<(String, Transition)> {
    let mut seen = HashSet::new();
    seq.iter()
        .filter(|(id, _)| seen.insert(id.clone()))
        .cloned()
        .collect()
}

fn run(start: &Life, seq: &[(String, Transition)]) -> Life {
    apply_all(start, seq.iter().map(|(id, t)| (id.as_str(), t)))
}

proptest! {
    #[test]
    fn redelivered_sequences_settle_like_their_first_occurrences(
        base in events(),
        dups in prop::collection::vec((any::<usize>(), any::<usize>()), 0..16),
        open_ended in any::<bool>(),
    ) {
        let start = Life::scheduled(at(0), if open_ended { None } else { Some(at(30)) });
        let seq = with_redeliveries(&base, &dups);
        let deduped = first_occurrences(&seq);
        // Re-deliveries always come after their first delivery.
        prop_assert_eq!(&deduped, &base);

        let end = run(&start, &seq);
        // (a) The machine only reaches consistent states.
        prop_assert!(end.is_consistent(), "{:?}", end);
        // (b) Duplicates never count twice.
        prop_assert_eq!(&end, &run(&start, &deduped));
        // (c) Once cancelled in a prefix, the state never changes afterwards.
        for k in 0..=seq.len() {
            let before = run(&start, &seq[..k]);
            prop_assert!(before.is_consistent(), "{:?}", before);
            if before.status == AppointmentStatus::Cancelled {
                prop_assert_eq!(end.status, AppointmentStatus::Cancelled);
                prop_assert_eq!(end.start, before.start);
                prop_assert_eq!(&end, &before);
            }
        }
    }
}
