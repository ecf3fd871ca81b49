use super::*;
use crate::error::Error;
use proptest::prelude::*;
use serde_json::json;

// ---- fixtures -------------------------------------------------------------------------

const SECRET: &str = "whk-7f3a9c1e5b2d48f6a0c4e8b1d3f5a7c9";

/// A BOOKING_CREATED delivery as Cal.com's 2021-10-20 payload builder writes it (the
/// booking fields spread from the calendar event, organizer and attendees with their UTC
/// offsets, labelled responses, event-type extras, metadata).
const CREATED_BODY: &str = r#"{
  "triggerEvent": "BOOKING_CREATED",
  "createdAt": "2026-03-02T14:05:11.538Z",
  "payload": {
    "type": "solar-consultation",
    "title": "Solar consultation between Acme Solar and Dana Whitfield",
    "description": "Roof faces south",
    "additionalNotes": "Roof faces south",
    "customInputs": {},
    "startTime": "2026-03-10T15:00:00Z",
    "endTime": "2026-03-10T15:30:00Z",
    "organizer": {
      "id": 42,
      "name": "Acme Solar",
      "email": "bookings@acme-solar.example",
      "username": "acme-solar",
      "timeZone": "America/Chicago",
      "language": { "locale": "en" },
      "timeFormat": "h:mma",
      "utcOffset": -300
    },
    "responses": {
      "name": { "label": "your_name", "value": "Dana Whitfield" },
      "email": { "label": "email_address", "value": "dana.whitfield@example.com" },
      "attendeePhoneNumber": { "label": "Phone number", "value": "+1 (512) 555-0147" },
      "zip": { "label": "ZIP code", "value": " 78701 " },
      "monthlyBill": { "label": "Monthly electric bill", "value": 180 },
      "homeowner": { "label": "Do you own the home?", "value": true },
      "interests": { "label": "Interested in", "value": ["Solar", "Battery"] },
      "location": {
        "label": "Location",
        "value": { "optionValue": "", "value": "integrations:daily" }
      },
      "notes": { "label": "Additional notes", "value": "Roof faces south" },
      "guests": { "label": "Additional guests", "value": [] },
      "rescheduleReason": { "label": "Reason for reschedule" }
    },
    "userFieldsResponses": {},
    "attendees": [
      {
        "email": "dana.whitfield@example.com",
        "name": "Dana Whitfield",
        "firstName": "Dana",
        "lastName": "Whitfield",
        "timeZone": "America/Chicago",
        "phoneNumber": null,
        "language": { "locale": "en" },
        "utcOffset": -300
      }
    ],
    "location": "integrations:daily",
    "destinationCalendar": null,
    "hideCalendarNotes": false,
    "requiresConfirmation": null,
    "eventTypeId": 1187,
    "seatsShowAttendees": true,
    "seatsPerTimeSlot": null,
    "uid": "6qTkbXjJ8mA1nS3pVr2LwZ",
    "bookingId": 90210,
    "conferenceData": null,
    "metadata": { "videoCallUrl": "https://app.cal.com/video/6qTkbXjJ8mA1nS3pVr2LwZ" },
    "status": "ACCEPTED",
    "eventTitle": "Solar consultation",
    "eventDescription": null,
    "price": 0,
    "currency": "usd",
    "length": 30,
    "smsReminderNumber": null
  }
}"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Cal.com's signature of `body`: hex HMAC-SHA256 under `secret`, computed with `hmac`.
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// 2026-03-02T14:00:00Z plus `minutes`, as Cal.com writes `createdAt`.
fn created(minutes: i64) -> String {
    let t = Timestamp::from_second(1_772_460_000 + minutes * 60).unwrap();
    format!("{}", t.strftime("%Y-%m-%dT%H:%M:%S.%3fZ"))
}

/// 2026-03-10T15:00:00Z plus `minutes`, as Cal.com writes `startTime`.
fn slot(minutes: i64) -> String {
    let t = Timestamp::from_second(1_773_154_800 + minutes * 60).unwrap();
    format!("{}", t.strftime("%Y-%m-%dT%H:%M:%SZ"))
}

fn ts(text: &str) -> Timestamp {
    rfc3339::parse(text).unwrap()
}

/// A booking payload of the 2021-10-20 shape for `uid`, 30 minutes from `start` minutes
/// after 2026-03-10T15:00Z.
fn booking(uid: &str, start: i64) -> Value {
    json!({
        "type": "solar-consultation",
        "title": "Solar consultation between Acme Solar and Dana Whitfield",
        "startTime": slot(start),
        "endTime": slot(start + 30),
        "organizer": {
            "name": "Acme Solar",
            "email": "bookings@acme-solar.example",
            "timeZone": "America/Chicago"
        },
        "attendees": [{
            "email": "dana.whitfield@example.com",
            "name": "Dana Whitfield",
            "timeZone": "America/Chicago",
            "phoneNumber": null
        }],
        "responses": {
            "name": { "label": "your_name", "value": "Dana Whitfield" },
            "email": { "label": "email_address", "value": "dana.whitfield@example.com" },
            "attendeePhoneNumber": { "label": "Phone number", "value": "+15125550147" },
            "zip": { "label": "ZIP code", "value": "78701" }
        },
        "uid": uid,
        "bookingId": 90210,
        "eventTypeId": 1187,
        "status": "ACCEPTED",
        "location": "integrations:daily",
        "additionalNotes": ""
    })
}

/// Merges `extra` into the object `base`.
fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

fn body(trigger: &str, at: i64, payload: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "triggerEvent": trigger,
        "createdAt": created(at),
        "payload": payload,
    }))
    .unwrap()
}

/// A delivery, through [`parse`].
fn event(trigger: &str, at: i64, payload: Value) -> Envelope {
    parse(&body(trigger, at, payload)).unwrap()
}

fn requested(uid: &str, at: i64, start: i64) -> Envelope {
    event(
        "BOOKING_REQUESTED",
        at,
        with(booking(uid, start), json!({"status": "PENDING"})),
    )
}

fn created_ev(uid: &str, at: i64, start: i64) -> Envelope {
    event("BOOKING_CREATED", at, booking(uid, start))
}

fn rescheduled(old: &str, new: &str, at: i64, start: i64) -> Envelope {
    event(
        "BOOKING_RESCHEDULED",
        at,
        with(
            booking(new, start),
            json!({"rescheduleUid": old, "rescheduleId": 90210, "rescheduledBy": "dana.whitfield@example.com"}),
        ),
    )
}

fn cancelled(uid: &str, at: i64, start: i64, reason: &str, request_reschedule: bool) -> Envelope {
    event(
        "BOOKING_CANCELLED",
        at,
        with(
            booking(uid, start),
            json!({
                "status": "CANCELLED",
                "cancellationReason": reason,
                "cancelledBy": "bookings@acme-solar.example",
                "requestReschedule": request_reschedule
            }),
        ),
    )
}

fn rejected(uid: &str, at: i64, start: i64, reason: Option<&str>) -> Envelope {
    event(
        "BOOKING_REJECTED",
        at,
        with(
            booking(uid, start),
            json!({"status": "REJECTED", "cancellationReason": reason}),
        ),
    )
}

/// BOOKING_NO_SHOW_UPDATED as Cal.com sends it: `bookingUid`, no booking times.
fn no_show(uid: &str, at: i64, marked: bool) -> Envelope {
    event(
        "BOOKING_NO_SHOW_UPDATED",
        at,
        json!({
            "message": "dana.whitfield@example.com marked as no-show",
            "bookingUid": uid,
            "bookingId": 90210,
            "attendees": [{ "email": "dana.whitfield@example.com", "noShow": marked }]
        }),
    )
}

/// MEETING_ENDED as Cal.com sends it: the booking row (`id`, not `bookingId`).
fn meeting_ended(uid: &str, at: i64, start: i64) -> Envelope {
    event(
        "MEETING_ENDED",
        at,
        json!({
            "id": 90210,
            "uid": uid,
            "userId": 42,
            "eventTypeId": 1187,
            "title": "Solar consultation between Acme Solar and Dana Whitfield",
            "startTime": format!("{}", ts(&slot(start)).strftime("%Y-%m-%dT%H:%M:%S.%3fZ")),
            "endTime": format!("{}", ts(&slot(start + 30)).strftime("%Y-%m-%dT%H:%M:%S.%3fZ")),
            "status": "ACCEPTED",
            "paid": false
        }),
    )
}

fn other(trigger: &str, uid: &str, at: i64, start: i64) -> Envelope {
    event(trigger, at, booking(uid, start))
}

// ---- verify ---------------------------------------------------------------------------

#[test]
fn a_real_signature_verifies() {
    let body = CREATED_BODY.as_bytes();
    let sig = sign(SECRET, body);
    assert_eq!(sig.len(), 64);
    assert_eq!(verify(Some(SECRET), body, Some(&sig)), Ok(()));
    // Hex of either case.
    assert_eq!(
        verify(Some(SECRET), body, Some(&sig.to_ascii_uppercase())),
        Ok(())
    );
    // An empty body is signed like any other.
    let empty = sign(SECRET, b"");
    assert_eq!(verify(Some(SECRET), b"", Some(&empty)), Ok(()));
}

#[test]
fn a_known_vector_verifies() {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    let sig = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    assert_eq!(
        verify(Some("Jefe"), b"what do ya want for nothing?", Some(sig)),
        Ok(())
    );
}

fn refusal(r: Result<(), CalcomError>) -> &'static str {
    let err = r.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    // The crate error says the same.
    let code = err.code();
    let wrapped = Error::from(err);
    assert_eq!(wrapped.kind(), ErrorKind::Unauthorized);
    assert_eq!(wrapped.code(), code);
    code
}

#[test]
fn verify_refusals() {
    let body = CREATED_BODY.as_bytes();
    let sig = sign(SECRET, body);
    // No usable secret on our side.
    assert_eq!(refusal(verify(None, body, Some(&sig))), "calcom_no_secret");
    assert_eq!(
        refusal(verify(Some(""), body, Some(&sig))),
        "calcom_no_secret"
    );
    let placeholder = sign("no-secret-provided", body);
    assert_eq!(
        refusal(verify(Some("no-secret-provided"), body, Some(&placeholder))),
        "calcom_no_secret"
    );
    // The sender has no secret: Cal.com's placeholder header.
    assert_eq!(
        refusal(verify(Some(SECRET), body, Some("no-secret-provided"))),
        "calcom_no_secret"
    );
    // No header.
    assert_eq!(
        refusal(verify(Some(SECRET), body, None)),
        "calcom_missing_signature"
    );
    assert_eq!(
        refusal(verify(Some(SECRET), body, Some(""))),
        "calcom_missing_signature"
    );
    // Wrong secret, tampered body, malformed hex, truncated, prefixed.
    let bad = [
        sign("another-secret", body),
        format!("sha256={sig}"),
        sig[..62].to_string(),
        format!("{sig}00"),
        format!("{}zz", &sig[..62]),
        // The last digit changed.
        format!(
            "{}{}",
            &sig[..63],
            if sig.ends_with('0') { '1' } else { '0' }
        ),
        sig[..63].to_string(),
        " ".repeat(64),
    ];
    for b in &bad {
        assert_eq!(
            refusal(verify(Some(SECRET), body, Some(b))),
            "calcom_bad_signature",
            "{b:?}"
        );
    }
    let mut tampered = body.to_vec();
    let at = CREATED_BODY.find("15:00:00Z").unwrap();
    tampered[at] = b'6';
    assert_eq!(
        refusal(verify(Some(SECRET), &tampered, Some(&sig))),
        "calcom_bad_signature"
    );
    let mut extended = body.to_vec();
    extended.push(b'\n');
    assert_eq!(
        refusal(verify(Some(SECRET), &extended, Some(&sig))),
        "calcom_bad_signature"
    );
}

#[test]
fn messages_do_not_leak_the_secret_or_signature() {
    let body = CREATED_BODY.as_bytes();
    let wrong = sign("another-secret", body);
    let err = verify(Some(SECRET), body, Some(&wrong)).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains(SECRET));
    assert!(!text.contains(&wrong));
    assert!(!text.contains(&sign(SECRET, body)));
}

// ---- parse ----------------------------------------------------------------------------

#[test]
fn parses_a_realistic_booking_created() {
    let env = parse(CREATED_BODY.as_bytes()).unwrap();
    assert_eq!(env.trigger, Trigger::BookingCreated);
    assert_eq!(env.created_at, ts("2026-03-02T14:05:11.538Z"));
    let b = &env.booking;
    assert_eq!(b.uid.as_deref(), Some("6qTkbXjJ8mA1nS3pVr2LwZ"));
    assert_eq!(b.booking_id, Some(90210));
    assert_eq!(
        b.title.as_deref(),
        Some("Solar consultation between Acme Solar and Dana Whitfield")
    );
    assert_eq!(b.start, Some(ts("2026-03-10T15:00:00Z")));
    assert_eq!(b.end, Some(ts("2026-03-10T15:30:00Z")));
    assert_eq!(
        b.attendees,
        vec![Attendee {
            name: Some("Dana Whitfield".into()),
            email: Some("dana.whitfield@example.com".into()),
            time_zone: Some("America/Chicago".into()),
            phone_number: None,
            no_show: None,
        }]
    );
    assert_eq!(
        b.organizer,
        Some(Organizer {
            name: Some("Acme Solar".into()),
            email: Some("bookings@acme-solar.example".into()),
            time_zone: Some("America/Chicago".into()),
        })
    );
    assert_eq!(b.status.as_deref(), Some("ACCEPTED"));
    assert_eq!(b.event_type.as_deref(), Some("solar-consultation"));
    assert_eq!(b.event_type_id, Some(1187));
    assert_eq!(b.reschedule_uid, None);
    assert_eq!(b.cancellation_reason, None);
    assert!(!b.request_reschedule);
    assert_eq!(b.additional_notes.as_deref(), Some("Roof faces south"));
    assert_eq!(b.location.as_deref(), Some("integrations:daily"));
    assert_eq!(b.responses.len(), 11);
    assert_eq!(
        event_key(&env),
        "BOOKING_CREATED:6qTkbXjJ8mA1nS3pVr2LwZ:2026-03-02T14:05:11.538Z"
    );
}

#[test]
fn responses_plain_or_labelled() {
    let env = parse(CREATED_BODY.as_bytes()).unwrap();
    let b = &env.booking;
    assert_eq!(b.response("name").as_deref(), Some("Dana Whitfield"));
    assert_eq!(b.response("zip").as_deref(), Some("78701"));
    assert_eq!(b.response("monthlyBill").as_deref(), Some("180"));
    assert_eq!(b.response("homeowner").as_deref(), Some("true"));
    assert_eq!(b.response("interests").as_deref(), Some("Solar, Battery"));
    // An object value, an empty list, a label without value, an absent field.
    assert_eq!(b.response("location"), None);
    assert_eq!(b.response("guests"), None);
    assert_eq!(b.response("rescheduleReason"), None);
    assert_eq!(b.response("nope"), None);

    // Plain values (MEETING_ENDED's booking row, older payloads).
    let plain = event(
        "BOOKING_CREATED",
        0,
        json!({"responses": {"zip": "10001", "phone": "+12125550100", "blank": "  ", "n": null}}),
    );
    assert_eq!(plain.booking.response("zip").as_deref(), Some("10001"));
    assert_eq!(
        plain.booking.attendee_phone("phone").as_deref(),
        Some("+12125550100")
    );
    assert_eq!(plain.booking.response("blank"), None);
    assert_eq!(plain.booking.response("n"), None);
}

#[test]
fn attendee_phone_email_and_no_show() {
    let env = parse(CREATED_BODY.as_bytes()).unwrap();
    let b = &env.booking;
    // The form answer first.
    assert_eq!(
        b.attendee_phone("attendeePhoneNumber").as_deref(),
        Some("+1 (512) 555-0147")
    );
    assert_eq!(
        b.attendee_email().as_deref(),
        Some("dana.whitfield@example.com")
    );
    assert_eq!(b.any_no_show(), None);

    // Else the first attendee's phoneNumber; the email from the form when no attendee has one.
    let b = event(
        "BOOKING_CREATED",
        0,
        json!({
            "attendees": [
                {"name": "Dana", "phoneNumber": "+15125550199", "noShow": false},
                {"name": "Sam", "email": "sam@example.com", "noShow": null}
            ],
            "responses": {"email": {"label": "email_address", "value": "dana@example.com"}}
        }),
    )
    .booking;
    assert_eq!(
        b.attendee_phone("attendeePhoneNumber").as_deref(),
        Some("+15125550199")
    );
    assert_eq!(b.attendee_email().as_deref(), Some("dana@example.com"));
    assert_eq!(b.any_no_show(), Some(false));

    let none = Booking::default();
    assert_eq!(none.attendee_phone("attendeePhoneNumber"), None);
    assert_eq!(none.attendee_email(), None);

    let marked = no_show("u1", 0, true).booking;
    assert_eq!(marked.uid.as_deref(), Some("u1"));
    assert_eq!(marked.any_no_show(), Some(true));
    let mixed = event(
        "BOOKING_NO_SHOW_UPDATED",
        0,
        json!({"bookingUid": "u1", "attendees": [{"noShow": false}, {"noShow": true}]}),
    );
    assert_eq!(mixed.booking.any_no_show(), Some(true));
}

#[test]
fn payload_variants_parse() {
    // No payload, a null payload, null fields, uid from bookingUid, booking id from `id`.
    let bare = parse(br#"{"triggerEvent":"PING","createdAt":"2026-03-02T14:00:00Z"}"#).unwrap();
    assert_eq!(bare.trigger, Trigger::Other("PING".into()));
    assert_eq!(bare.booking, Booking::default());
    let null =
        parse(br#"{"triggerEvent":"PING","createdAt":"2026-03-02T14:00:00Z","payload":null}"#)
            .unwrap();
    assert_eq!(null.booking, Booking::default());
    let nulls = event(
        "BOOKING_CANCELLED",
        0,
        json!({"uid": null, "bookingUid": "u9", "startTime": null, "cancellationReason": null,
               "requestReschedule": null, "attendees": null, "organizer": null, "responses": null,
               "eventTypeId": null}),
    );
    assert_eq!(nulls.booking.uid.as_deref(), Some("u9"));
    assert_eq!(nulls.booking.start, None);
    assert!(!nulls.booking.request_reschedule);
    let row = meeting_ended("u9", 0, 0);
    assert_eq!(row.booking.booking_id, Some(90210));
    assert_eq!(row.booking.start, Some(ts(&slot(0))));
    // `bookingId` wins over `id`; a non-integer `id` is not a booking id.
    let both = event("MEETING_ENDED", 0, json!({"bookingId": 7, "id": 8}));
    assert_eq!(both.booking.booking_id, Some(7));
    let odd = event("MEETING_ENDED", 0, json!({"id": "abc"}));
    assert_eq!(odd.booking.booking_id, None);
    // Offsets are read as instants.
    let offset = event(
        "BOOKING_CREATED",
        0,
        json!({"startTime": "2026-03-10T10:00:00-05:00", "endTime": "2026-03-10T10:30:00-05:00"}),
    );
    assert_eq!(offset.booking.start, Some(ts("2026-03-10T15:00:00Z")));
}

#[test]
fn parse_errors() {
    let cases: &[&[u8]] = &[
        b"",
        b"not json",
        b"{\"triggerEvent\":",
        b"[]",
        b"\"BOOKING_CREATED\"",
        br#"{"createdAt":"2026-03-02T14:00:00Z"}"#,
        br#"{"triggerEvent":7,"createdAt":"2026-03-02T14:00:00Z"}"#,
        br#"{"triggerEvent":"","createdAt":"2026-03-02T14:00:00Z"}"#,
        br#"{"triggerEvent":"BOOKING_CREATED"}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":1685000000}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"yesterday"}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00Z"}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":[]}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"startTime":"2026-03-10 15:00"}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"startTime":"2026-02-30T15:00:00Z"}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"startTime":1773154800}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"endTime":"soon"}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"startTime":"2026-03-10T15:00:00Z","endTime":"2026-03-10T14:59:59Z"}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"uid":12}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"bookingId":"12"}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"eventTypeId":1.5}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"attendees":{}}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"attendees":["dana"]}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"attendees":[{"noShow":"yes"}]}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"organizer":"acme"}}"#,
        br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"responses":[]}}"#,
        br#"{"triggerEvent":"BOOKING_CANCELLED","createdAt":"2026-03-02T14:00:00Z","payload":{"requestReschedule":"true"}}"#,
    ];
    for body in cases {
        let err = parse(body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(err.code(), "calcom_malformed", "{err}");
        assert!(matches!(err, CalcomError::Malformed { .. }));
        assert_eq!(Error::from(err).code(), "calcom_malformed");
    }
    let err = parse(br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-03-02T14:00:00Z","payload":{"startTime":"x"}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed Cal.com webhook: payload.startTime is not an RFC 3339 time"
    );
}

#[test]
fn every_trigger_is_spelled_and_parsed() {
    let all = [
        (Trigger::BookingCreated, "BOOKING_CREATED"),
        (Trigger::BookingRequested, "BOOKING_REQUESTED"),
        (Trigger::BookingRejected, "BOOKING_REJECTED"),
        (Trigger::BookingRescheduled, "BOOKING_RESCHEDULED"),
        (Trigger::BookingCancelled, "BOOKING_CANCELLED"),
        (Trigger::BookingNoShowUpdated, "BOOKING_NO_SHOW_UPDATED"),
        (Trigger::MeetingEnded, "MEETING_ENDED"),
        (Trigger::Other("BOOKING_PAID".into()), "BOOKING_PAID"),
        (Trigger::Other("booking_created".into()), "booking_created"),
    ];
    for (trigger, text) in all {
        assert_eq!(trigger.as_str(), text);
        assert_eq!(trigger.to_string(), text);
        assert_eq!(Trigger::parse(text), trigger);
        let env = event(text, 0, booking("u1", 0));
        assert_eq!(env.trigger, trigger);
    }
}

#[test]
fn event_keys_identify_deliveries() {
    let a = created_ev("u1", 0, 0);
    // A retry is the same body.
    assert_eq!(event_key(&a), event_key(&created_ev("u1", 0, 0)));
    assert_eq!(
        event_key(&a),
        format!("BOOKING_CREATED:u1:{}", ts(&created(0)))
    );
    // Another trigger, uid or time is another delivery.
    assert_ne!(event_key(&a), event_key(&requested("u1", 0, 0)));
    assert_ne!(event_key(&a), event_key(&created_ev("u2", 0, 0)));
    assert_ne!(event_key(&a), event_key(&created_ev("u1", 1, 0)));
    // No uid.
    let bare = parse(br#"{"triggerEvent":"PING","createdAt":"2026-03-02T14:00:00Z"}"#).unwrap();
    assert_eq!(event_key(&bare), "PING::2026-03-02T14:00:00Z");
}

// ---- config ---------------------------------------------------------------------------

#[test]
fn config_products_and_defaults() {
    let mut cfg = CalcomConfig::new("calcom-acme");
    assert_eq!(cfg.provider_id, "calcom-acme");
    assert_eq!(cfg.phone_field, "attendeePhoneNumber");
    assert_eq!(cfg.zip_field, "zip");
    let env = parse(CREATED_BODY.as_bytes()).unwrap();
    assert_eq!(cfg.product_for(&env.booking), None);

    cfg.products.insert("1187".into(), "Heat Pump".into());
    assert_eq!(cfg.product_for(&env.booking), Some("Heat Pump"));
    // The slug wins over the id.
    cfg.products
        .insert("solar-consultation".into(), "Solar".into());
    assert_eq!(cfg.product_for(&env.booking), Some("Solar"));
    // Unmapped slug falls back to the id.
    let mut other = env.booking.clone();
    other.event_type = Some("roof-check".into());
    assert_eq!(cfg.product_for(&other), Some("Heat Pump"));
    other.event_type_id = None;
    assert_eq!(cfg.product_for(&other), None);

    let read: CalcomConfig = serde_json::from_value(json!({
        "provider_id": "calcom-acme",
        "products": {"solar-consultation": "Solar", "1187": "Heat Pump"}
    }))
    .unwrap();
    assert_eq!(read, cfg);
    let custom: CalcomConfig = serde_json::from_value(json!({
        "provider_id": "p", "products": {}, "phone_field": "phone", "zip_field": "postal"
    }))
    .unwrap();
    assert_eq!(custom.phone_field, "phone");
    assert_eq!(custom.zip_field, "postal");
    let round: CalcomConfig =
        serde_json::from_str(&serde_json::to_string(&custom).unwrap()).unwrap();
    assert_eq!(round, custom);
    assert!(serde_json::from_value::<CalcomConfig>(json!({"provider_id": "p"})).is_err());
}

// ---- fold: each trigger ---------------------------------------------------------------

fn state(events: &[Envelope]) -> BookingState {
    let s = fold(events).unwrap();
    assert!(s.life.is_consistent(), "{s:?}");
    s
}

#[test]
fn fold_without_booking_data_is_none() {
    assert_eq!(fold(&[]), None);
    let ping = parse(br#"{"triggerEvent":"PING","createdAt":"2026-03-02T14:00:00Z"}"#).unwrap();
    assert_eq!(fold(&[ping]), None);
    // Other triggers are ignored even with booking data.
    assert_eq!(
        fold(&[
            other("BOOKING_PAID", "u1", 0, 0),
            other("MEETING_STARTED", "u1", 1, 0)
        ]),
        None
    );
    // A no-show update carries no times: nothing to seed.
    assert_eq!(fold(&[no_show("u1", 0, true)]), None);
}

#[test]
fn fold_created() {
    let s = state(&[created_ev("u1", 0, 0)]);
    assert_eq!(s.life, Life::scheduled(ts(&slot(0)), Some(ts(&slot(30)))));
    assert_eq!(s.current_uid.as_deref(), Some("u1"));
    assert_eq!(s.uids, vec!["u1".to_string()]);
    assert!(!s.pending_confirmation && !s.reschedule_requested && !s.meeting_ended);
    // Ignored neighbours change nothing.
    let with_others = state(&[
        other("BOOKING_PAID", "u1", 1, 0),
        created_ev("u1", 0, 0),
        other("MEETING_STARTED", "u1", 2, 0),
    ]);
    assert_eq!(with_others, s);
}

#[test]
fn fold_requested_then_confirmed() {
    let pending = state(&[requested("u1", 0, 0)]);
    assert_eq!(pending.life.status, AppointmentStatus::Scheduled);
    assert!(pending.pending_confirmation);
    let confirmed = state(&[created_ev("u1", 5, 0), requested("u1", 0, 0)]);
    assert_eq!(confirmed.life.status, AppointmentStatus::Confirmed);
    assert!(!confirmed.pending_confirmation);
    // Same createdAt: requested sorts first.
    let tie = state(&[created_ev("u1", 0, 0), requested("u1", 0, 0)]);
    assert_eq!(tie, confirmed);
    // A created without a request before it is not a confirmation.
    let plain = state(&[created_ev("u1", 0, 0), created_ev("u1", 5, 0)]);
    assert_eq!(plain.life.status, AppointmentStatus::Scheduled);
}

#[test]
fn fold_rejected() {
    let s = state(&[rejected("u1", 5, 0, None), requested("u1", 0, 0)]);
    assert_eq!(s.life.status, AppointmentStatus::Cancelled);
    assert_eq!(s.life.cancellation_reason.as_deref(), Some("rejected"));
    assert!(!s.pending_confirmation);
    let s = state(&[
        requested("u1", 0, 0),
        rejected("u1", 5, 0, Some("No availability")),
    ]);
    assert_eq!(
        s.life.cancellation_reason.as_deref(),
        Some("No availability")
    );
    // A confirmation after a rejection cannot revive it.
    let s = state(&[
        requested("u1", 0, 0),
        rejected("u1", 5, 0, None),
        created_ev("u1", 9, 0),
    ]);
    assert_eq!(s.life.status, AppointmentStatus::Cancelled);
    assert!(!s.pending_confirmation);
}

#[test]
fn fold_rescheduled() {
    let s = state(&[created_ev("a", 0, 0), rescheduled("a", "b", 10, 120)]);
    assert_eq!(s.life.status, AppointmentStatus::Rescheduled);
    assert_eq!(s.life.reschedule_count, 1);
    assert_eq!(s.life.start, ts(&slot(120)));
    assert_eq!(s.life.end, Some(ts(&slot(150))));
    assert_eq!(s.current_uid.as_deref(), Some("b"));
    assert_eq!(s.uids, vec!["a".to_string(), "b".to_string()]);
}

#[test]
fn fold_cancelled() {
    let s = state(&[
        created_ev("a", 0, 0),
        cancelled("a", 10, 0, "Found another installer", false),
    ]);
    assert_eq!(s.life.status, AppointmentStatus::Cancelled);
    assert_eq!(
        s.life.cancellation_reason.as_deref(),
        Some("Found another installer")
    );
    assert!(!s.reschedule_requested);
    // The host's "request reschedule".
    let s = state(&[
        created_ev("a", 0, 0),
        cancelled("a", 10, 0, "Please pick another day", true),
    ]);
    assert_eq!(s.life.status, AppointmentStatus::Cancelled);
    assert!(s.reschedule_requested);
    // The attendee then books the new time: the lineage moves on, the cancel stands.
    let s = state(&[
        created_ev("a", 0, 0),
        cancelled("a", 10, 0, "Please pick another day", true),
        rescheduled("a", "b", 20, 1440),
    ]);
    assert_eq!(s.life.status, AppointmentStatus::Cancelled);
    assert_eq!(s.life.start, ts(&slot(0)));
    assert_eq!(s.current_uid.as_deref(), Some("b"));
    assert!(s.reschedule_requested);
}

#[test]
fn fold_no_show_updated() {
    let s = state(&[created_ev("a", 0, 0), no_show("a", 60, true)]);
    assert_eq!(s.life.status, AppointmentStatus::NoShow);
    assert!(!s.meeting_ended);
    // Unmarked before the meeting ended: stays no_show.
    let s = state(&[
        created_ev("a", 0, 0),
        no_show("a", 60, true),
        no_show("a", 61, false),
    ]);
    assert_eq!(s.life.status, AppointmentStatus::NoShow);
    // Unmarked after the meeting ended: completed.
    let s = state(&[
        created_ev("a", 0, 0),
        meeting_ended("a", 40, 0),
        no_show("a", 60, true),
        no_show("a", 61, false),
    ]);
    assert_eq!(s.life.status, AppointmentStatus::Completed);
    assert!(s.meeting_ended);
    // An update that marks nobody changes nothing.
    let s = state(&[created_ev("a", 0, 0), no_show("a", 60, false)]);
    assert_eq!(s.life.status, AppointmentStatus::Scheduled);
}

#[test]
fn fold_meeting_ended() {
    let s = state(&[meeting_ended("a", 40, 0), created_ev("a", 0, 0)]);
    assert_eq!(s.life.status, AppointmentStatus::Completed);
    assert!(s.meeting_ended);
    // Already no_show: stays no_show.
    let s = state(&[
        created_ev("a", 0, 0),
        no_show("a", 20, true),
        meeting_ended("a", 40, 0),
    ]);
    assert_eq!(s.life.status, AppointmentStatus::NoShow);
    assert!(s.meeting_ended);
    // Then a no-show mark corrects completed to no_show.
    let s = state(&[
        created_ev("a", 0, 0),
        meeting_ended("a", 40, 0),
        no_show("a", 60, true),
    ]);
    assert_eq!(s.life.status, AppointmentStatus::NoShow);
    // A cancelled booking does not end.
    let s = state(&[
        created_ev("a", 0, 0),
        cancelled("a", 10, 0, "x", false),
        meeting_ended("a", 40, 0),
    ]);
    assert_eq!(s.life.status, AppointmentStatus::Cancelled);
}

// ---- fold: lineage and order ----------------------------------------------------------

#[test]
fn lineage_across_three_reschedules() {
    let chain = vec![
        created_ev("a", 0, 0),
        rescheduled("a", "b", 10, 60),
        rescheduled("b", "c", 20, 120),
        rescheduled("c", "d", 30, 180),
    ];
    let s = state(&chain);
    assert_eq!(s.current_uid.as_deref(), Some("d"));
    assert_eq!(s.uids, ["a", "b", "c", "d"].map(String::from).to_vec());
    assert_eq!(s.life.status, AppointmentStatus::Rescheduled);
    assert_eq!(s.life.reschedule_count, 3);
    assert_eq!(s.life.start, ts(&slot(180)));

    // A cancel of b after b was superseded is stale.
    let mut stale = chain.clone();
    stale.push(cancelled("b", 25, 60, "stale", false));
    assert_eq!(state(&stale), s);

    // A cancel of d stands, and the stale cancel of b does not change it.
    let mut done = stale.clone();
    done.push(cancelled("d", 40, 180, "Went with a competitor", false));
    let s = state(&done);
    assert_eq!(s.life.status, AppointmentStatus::Cancelled);
    assert_eq!(s.life.start, ts(&slot(180)));
    assert_eq!(s.life.reschedule_count, 3);
    assert_eq!(
        s.life.cancellation_reason.as_deref(),
        Some("Went with a competitor")
    );
    assert_eq!(s.current_uid.as_deref(), Some("d"));
    assert_eq!(s.uids, ["a", "b", "c", "d"].map(String::from).to_vec());
    // Delivered backwards: the same.
    let mut backwards = done.clone();
    backwards.reverse();
    assert_eq!(state(&backwards), s);

    // Stale no-show and meeting-ended events of a superseded uid are ignored too.
    let mut ghosts = chain.clone();
    ghosts.push(no_show("a", 35, true));
    ghosts.push(meeting_ended("b", 36, 60));
    assert_eq!(state(&ghosts), state(&chain));
}

#[test]
fn cancelled_before_created() {
    let created = created_ev("a", 0, 0);
    let cancel = cancelled("a", 10, 0, "Changed my mind", false);
    // The cancel alone seeds, then cancels.
    let alone = state(std::slice::from_ref(&cancel));
    assert_eq!(alone.life.status, AppointmentStatus::Cancelled);
    assert_eq!(alone.life.start, ts(&slot(0)));
    assert_eq!(
        alone.life.cancellation_reason.as_deref(),
        Some("Changed my mind")
    );
    // The created delivered after it changes nothing.
    let both = state(&[cancel.clone(), created.clone()]);
    assert_eq!(both, alone);
    assert_eq!(state(&[created, cancel]), alone);
}

#[test]
fn rescheduled_before_created() {
    let created = created_ev("a", 0, 0);
    let moved = rescheduled("a", "b", 10, 90);
    // The reschedule alone seeds `rescheduled`, counted once, at its new time.
    let alone = state(std::slice::from_ref(&moved));
    assert_eq!(alone.life.status, AppointmentStatus::Rescheduled);
    assert_eq!(alone.life.reschedule_count, 1);
    assert_eq!(alone.life.start, ts(&slot(90)));
    assert_eq!(alone.life.end, Some(ts(&slot(120))));
    assert_eq!(alone.current_uid.as_deref(), Some("b"));
    assert_eq!(alone.uids, vec!["a".to_string(), "b".to_string()]);
    // The created arriving late gives the same state.
    assert_eq!(state(&[moved.clone(), created.clone()]), alone);
    assert_eq!(state(&[created, moved]), alone);
}

#[test]
fn late_created_after_a_cancel() {
    let cancel = cancelled("a", 10, 0, "No longer needed", false);
    // A created delivered late (its createdAt is before the cancel).
    let s = state(&[cancel.clone(), created_ev("a", 0, 0)]);
    assert_eq!(s.life.status, AppointmentStatus::Cancelled);
    // A created stamped after the cancel (another delivery of a seen uid) changes nothing.
    let s2 = state(&[
        created_ev("a", 0, 0),
        cancel.clone(),
        created_ev("a", 20, 0),
    ]);
    assert_eq!(s2, s);
    let s3 = state(&[cancel, created_ev("a", 20, 0)]);
    assert_eq!(s3.life.status, AppointmentStatus::Cancelled);
    assert_eq!(
        s3.life.cancellation_reason.as_deref(),
        Some("No longer needed")
    );
}

#[test]
fn duplicates_count_once_even_with_different_bodies() {
    // Two deliveries with one key and different content: whichever arrives first, the same
    // one counts.
    let x = cancelled("a", 10, 0, "reason one", false);
    let y = cancelled("a", 10, 0, "reason two", true);
    assert_eq!(event_key(&x), event_key(&y));
    let c = created_ev("a", 0, 0);
    let one = state(&[c.clone(), x.clone(), y.clone()]);
    let two = state(&[y, c, x]);
    assert_eq!(one, two);
    // Plain retries count once: two reschedules to one time are one reschedule.
    let moved = rescheduled("a", "b", 10, 60);
    let s = state(&[created_ev("a", 0, 0), moved.clone(), moved.clone(), moved]);
    assert_eq!(s.life.reschedule_count, 1);
}

/// A realistic history of one booking: requested, confirmed, paid, moved twice, a stale
/// cancel of an old uid, a ping, the meeting ended, a no-show mark and its correction.
fn history() -> Vec<Envelope> {
    vec![
        requested("a", 0, 0),
        created_ev("a", 30, 0),
        other("BOOKING_PAID", "a", 31, 0),
        rescheduled("a", "b", 600, 1440),
        rescheduled("b", "c", 1200, 2880),
        cancelled("b", 1300, 1440, "stale", false),
        parse(br#"{"triggerEvent":"PING","createdAt":"2026-03-02T14:00:00Z"}"#).unwrap(),
        meeting_ended("c", 11_000, 2880),
        no_show("c", 11_100, true),
        no_show("c", 11_200, false),
    ]
}

/// A history that ends in the host's request to reschedule, with a late reschedule.
fn cancelled_history() -> Vec<Envelope> {
    vec![
        created_ev("a", 0, 0),
        rescheduled("a", "b", 100, 60),
        cancelled("b", 200, 60, "Please pick another day", true),
        cancelled("a", 150, 0, "stale", false),
        rescheduled("b", "c", 300, 240),
        no_show("c", 400, true),
        meeting_ended("b", 500, 60),
    ]
}

#[test]
fn the_histories_settle_as_expected() {
    let s = state(&history());
    assert_eq!(s.life.status, AppointmentStatus::Completed);
    assert_eq!(s.life.start, ts(&slot(2880)));
    assert_eq!(s.life.end, Some(ts(&slot(2910))));
    assert_eq!(s.life.reschedule_count, 2);
    assert_eq!(s.current_uid.as_deref(), Some("c"));
    assert_eq!(s.uids, ["a", "b", "c"].map(String::from).to_vec());
    assert!(!s.pending_confirmation);
    assert!(!s.reschedule_requested);
    assert!(s.meeting_ended);

    let s = state(&cancelled_history());
    assert_eq!(s.life.status, AppointmentStatus::Cancelled);
    assert_eq!(s.life.start, ts(&slot(60)));
    assert_eq!(s.life.reschedule_count, 1);
    assert_eq!(
        s.life.cancellation_reason.as_deref(),
        Some("Please pick another day")
    );
    assert_eq!(s.current_uid.as_deref(), Some("c"));
    assert_eq!(s.uids, ["a", "b", "c"].map(String::from).to_vec());
    assert!(s.reschedule_requested);
    assert!(!s.meeting_ended);
}

/// `events` with random re-deliveries (copies of random entries), in a random order.
fn redelivered_shuffles(events: Vec<Envelope>) -> impl Strategy<Value = Vec<Envelope>> {
    prop::collection::vec(any::<prop::sample::Index>(), 0..12).prop_flat_map(move |dups| {
        let mut all = events.clone();
        if !events.is_empty() {
            all.extend(dups.iter().map(|i| events[i.index(events.len())].clone()));
        }
        Just(all).prop_shuffle()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fold_ignores_delivery_order_and_redeliveries(events in redelivered_shuffles(history())) {
        prop_assert_eq!(fold(&events), fold(&history()));
    }

    #[test]
    fn fold_of_a_cancelled_lineage_ignores_order(
        events in redelivered_shuffles(cancelled_history())
    ) {
        prop_assert_eq!(fold(&events), fold(&cancelled_history()));
    }
}

/// Any event of a small universe (four uids, many equal `createdAt`s, some without times),
/// built directly, to stress the tie-breaks.
fn any_event() -> impl Strategy<Value = Envelope> {
    let trigger = prop_oneof![
        Just(Trigger::BookingCreated),
        Just(Trigger::BookingRequested),
        Just(Trigger::BookingRejected),
        Just(Trigger::BookingRescheduled),
        Just(Trigger::BookingCancelled),
        Just(Trigger::BookingNoShowUpdated),
        Just(Trigger::MeetingEnded),
        Just(Trigger::Other("BOOKING_PAID".into())),
    ];
    let uid = prop::option::of(prop::sample::select(vec!["a", "b", "c", "d"]));
    (
        trigger,
        0i64..6,
        uid.clone(),
        uid,
        prop::option::of(0i64..4),
        prop::option::of(prop::sample::select(vec!["x", "y"])),
        any::<bool>(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(trigger, at, uid, old, start, reason, rr, no_show)| Envelope {
                trigger,
                created_at: ts(&created(at)),
                booking: Booking {
                    uid: uid.map(String::from),
                    reschedule_uid: old.map(String::from),
                    start: start.map(|s| ts(&slot(s * 60))),
                    end: start.map(|s| ts(&slot(s * 60 + 30))),
                    cancellation_reason: reason.map(String::from),
                    request_reschedule: rr,
                    attendees: vec![Attendee {
                        no_show,
                        ..Attendee::default()
                    }],
                    ..Booking::default()
                },
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fold_of_any_events_ignores_order_and_redeliveries(
        (events, shuffled) in prop::collection::vec(any_event(), 0..14).prop_flat_map(|events| {
            let redelivered = redelivered_shuffles(events.clone());
            (Just(events), redelivered)
        })
    ) {
        let folded = fold(&events);
        if let Some(s) = &folded {
            prop_assert!(s.life.is_consistent(), "{:?}", s);
        }
        prop_assert_eq!(fold(&shuffled), folded);
    }
}
