//! Cal.com booking webhooks: the signature check, the payload, and the order-proof fold of a
//! booking's events into its lifecycle state. Pure: no storage, no clock, no engine.
//!
//! # Wire format
//!
//! Cal.com (webhook payload version 2021-10-20) posts JSON
//! `{"triggerEvent": "BOOKING_CREATED", "createdAt": "2023-05-24T09:30:00.000Z",
//! "payload": {...}}` with the header [`SIGNATURE_HEADER`]: the lowercase hex HMAC-SHA256
//! of the exact body under the webhook's secret, or the literal `no-secret-provided` when the
//! webhook has no secret (Cal.com's `sendPayload`). [`verify`] checks it; [`parse`] reads
//! the envelope into an [`Envelope`] whose [`Booking`] holds the payload fields leadroute
//! uses (see there); every payload field is optional and unknown fields are ignored.
//!
//! Deliveries are retried with the same body and arrive in any order; they carry no
//! delivery id, so [`event_key`] (trigger, booking uid, `createdAt`) identifies one. A
//! reschedule gives the booking a new `uid` and names the old one in `rescheduleUid`; a
//! host's "request reschedule" arrives as `BOOKING_CANCELLED` with `requestReschedule:
//! true`. [`fold`] settles the events of one booking lineage into a [`BookingState`] that
//! does not depend on their delivery order.
//!
//! # Examples
//!
//! ```
//! use leadroute_core::calcom;
//! use leadroute_core::status::AppointmentStatus;
//!
//! let body = br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2023-05-24T09:30:00.000Z",
//!   "payload":{"uid":"bk1","startTime":"2023-05-25T09:00:00Z","endTime":"2023-05-25T09:30:00Z"}}"#;
//! // Unsigned requests are refused.
//! let err = calcom::verify(Some("s3cret"), body, Some("no-secret-provided")).unwrap_err();
//! assert_eq!(err.code(), "calcom_no_secret");
//!
//! let env = calcom::parse(body).unwrap();
//! assert_eq!(env.trigger, calcom::Trigger::BookingCreated);
//! assert_eq!(calcom::event_key(&env), "BOOKING_CREATED:bk1:2023-05-24T09:30:00Z");
//! let state = calcom::fold(&[env.clone(), env]).unwrap();
//! assert_eq!(state.life.status, AppointmentStatus::Scheduled);
//! assert_eq!(state.current_uid.as_deref(), Some("bk1"));
//! ```

use crate::auth::CAL_NO_SECRET;
use crate::kind::ErrorKind;
use crate::lifecycle::{self, Life, Transition};
use crate::rfc3339;
use crate::status::AppointmentStatus;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

/// The header that carries Cal.com's signature (HTTP header names are case-insensitive;
/// Cal.com writes `X-Cal-Signature-256`).
pub const SIGNATURE_HEADER: &str = "x-cal-signature-256";

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a Cal.com request was refused by [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// No usable secret: ours is missing, empty or the placeholder `no-secret-provided`, or
    /// the sender signed with none (the header is `no-secret-provided`). Code
    /// `calcom_no_secret`.
    NoSecret,
    /// The signature header is absent or empty. Code `calcom_missing_signature`.
    MissingSignature,
    /// The signature is not hexadecimal, or does not match the body under the secret. Code
    /// `calcom_bad_signature`.
    BadSignature,
}

impl Refusal {
    /// `calcom_no_secret`, `calcom_missing_signature` or `calcom_bad_signature`.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NoSecret => "calcom_no_secret",
            Refusal::MissingSignature => "calcom_missing_signature",
            Refusal::BadSignature => "calcom_bad_signature",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::NoSecret => "no signing secret",
            Refusal::MissingSignature => "missing signature header",
            Refusal::BadSignature => "signature does not match",
        })
    }
}

/// A Cal.com webhook that was refused or could not be read. Messages never contain the
/// secret, the signature or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalcomError {
    /// The request is not authentic (see [`Refusal`]); kind `Unauthorized`.
    #[error("Cal.com webhook refused: {reason}")]
    Unauthorized {
        /// Why.
        reason: Refusal,
    },
    /// The body is not a Cal.com webhook envelope, or a field has the wrong type or format;
    /// kind `InvalidInput`, code `calcom_malformed`.
    #[error("malformed Cal.com webhook: {reason}")]
    Malformed {
        /// What is wrong, naming the field (e.g. `payload.startTime is not an RFC 3339
        /// time`).
        reason: String,
    },
}

impl CalcomError {
    /// `Unauthorized` for a refusal, `InvalidInput` for a malformed body.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CalcomError::Unauthorized { .. } => ErrorKind::Unauthorized,
            CalcomError::Malformed { .. } => ErrorKind::InvalidInput,
        }
    }

    /// The refusal's code ([`Refusal::code`]) or `calcom_malformed`.
    pub fn code(&self) -> &'static str {
        match self {
            CalcomError::Unauthorized { reason } => reason.code(),
            CalcomError::Malformed { .. } => "calcom_malformed",
        }
    }
}

fn refused(reason: Refusal) -> CalcomError {
    CalcomError::Unauthorized { reason }
}

fn malformed(reason: impl Into<String>) -> CalcomError {
    CalcomError::Malformed {
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Signature

/// Checks Cal.com's signature of a request: `signature` (the [`SIGNATURE_HEADER`] value)
/// must be the hex HMAC-SHA256 of the exact `body` bytes keyed by the UTF-8 bytes of
/// `secret`. The comparison is constant-time (`hmac`'s `verify_slice`); hex digits of either
/// case are read (Cal.com sends lowercase). Cal.com signs no timestamp and no id, so replay
/// protection is [`event_key`] deduplication, not this check.
///
/// # Errors
///
/// [`CalcomError::Unauthorized`] with
/// - [`Refusal::NoSecret`] when `secret` is `None`, empty or `no-secret-provided` (Cal.com's
///   placeholder), or `signature` is `no-secret-provided` (the sender has no secret);
/// - [`Refusal::MissingSignature`] when `signature` is `None` or empty;
/// - [`Refusal::BadSignature`] when `signature` is not an even number of hex digits or does
///   not match.
pub fn verify(
    secret: Option<&str>,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), CalcomError> {
    let secret = match secret {
        Some(s) if !s.is_empty() && s != CAL_NO_SECRET => s,
        _ => return Err(refused(Refusal::NoSecret)),
    };
    let signature = match signature {
        None | Some("") => return Err(refused(Refusal::MissingSignature)),
        Some(CAL_NO_SECRET) => return Err(refused(Refusal::NoSecret)),
        Some(s) => s,
    };
    let presented = hex::decode(signature).map_err(|_| refused(Refusal::BadSignature))?;
    // HMAC accepts keys of any length; the error arm is unreachable but not panicked on.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| refused(Refusal::NoSecret))?;
    mac.update(body);
    mac.verify_slice(&presented)
        .map_err(|_| refused(Refusal::BadSignature))
}

// ---------------------------------------------------------------------------------------------
// Envelope

/// A Cal.com webhook trigger (`triggerEvent`), spelled as Cal.com spells it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    /// `BOOKING_CREATED`: a booking was made (or a pending one was confirmed by the host).
    BookingCreated,
    /// `BOOKING_REQUESTED`: a booking awaits the host's confirmation.
    BookingRequested,
    /// `BOOKING_REJECTED`: the host declined a pending booking.
    BookingRejected,
    /// `BOOKING_RESCHEDULED`: the booking moved; it has a new `uid`, the old in
    /// `rescheduleUid`.
    BookingRescheduled,
    /// `BOOKING_CANCELLED`: the booking was cancelled (with `requestReschedule: true` when
    /// the host asked the attendee to pick a new time).
    BookingCancelled,
    /// `BOOKING_NO_SHOW_UPDATED`: attendees were marked (or unmarked) no-show.
    BookingNoShowUpdated,
    /// `MEETING_ENDED`: the meeting's end time passed.
    MeetingEnded,
    /// Any other trigger (`PING`, `BOOKING_PAID`, `MEETING_STARTED`, `FORM_SUBMITTED`, ...),
    /// as sent.
    Other(String),
}

impl Trigger {
    /// Cal.com's spelling, e.g. `BOOKING_CREATED`; an [`Trigger::Other`] as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Trigger::BookingCreated => "BOOKING_CREATED",
            Trigger::BookingRequested => "BOOKING_REQUESTED",
            Trigger::BookingRejected => "BOOKING_REJECTED",
            Trigger::BookingRescheduled => "BOOKING_RESCHEDULED",
            Trigger::BookingCancelled => "BOOKING_CANCELLED",
            Trigger::BookingNoShowUpdated => "BOOKING_NO_SHOW_UPDATED",
            Trigger::MeetingEnded => "MEETING_ENDED",
            Trigger::Other(text) => text,
        }
    }

    /// Reads Cal.com's spelling (exact, case-sensitive); any other text is
    /// [`Trigger::Other`].
    pub fn parse(text: &str) -> Trigger {
        match text {
            "BOOKING_CREATED" => Trigger::BookingCreated,
            "BOOKING_REQUESTED" => Trigger::BookingRequested,
            "BOOKING_REJECTED" => Trigger::BookingRejected,
            "BOOKING_RESCHEDULED" => Trigger::BookingRescheduled,
            "BOOKING_CANCELLED" => Trigger::BookingCancelled,
            "BOOKING_NO_SHOW_UPDATED" => Trigger::BookingNoShowUpdated,
            "MEETING_ENDED" => Trigger::MeetingEnded,
            other => Trigger::Other(other.to_string()),
        }
    }

    /// Where the trigger sorts among events with one `createdAt`: a booking's life order
    /// (requested, created, rescheduled, rejected, cancelled, meeting ended, no-show), then
    /// the ignored others.
    fn rank(&self) -> u8 {
        match self {
            Trigger::BookingRequested => 0,
            Trigger::BookingCreated => 1,
            Trigger::BookingRescheduled => 2,
            Trigger::BookingRejected => 3,
            Trigger::BookingCancelled => 4,
            Trigger::MeetingEnded => 5,
            Trigger::BookingNoShowUpdated => 6,
            Trigger::Other(_) => 7,
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Cal.com webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `triggerEvent`.
    pub trigger: Trigger,
    /// `createdAt`: when Cal.com built the event (UTC). Retries keep it.
    pub created_at: Timestamp,
    /// The fields of `payload` leadroute reads (all empty when there is no payload).
    pub booking: Booking,
}

/// An attendee (`payload.attendees[]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attendee {
    /// `name`.
    pub name: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `timeZone`, an IANA name such as `America/New_York`.
    pub time_zone: Option<String>,
    /// `phoneNumber`, as entered.
    pub phone_number: Option<String>,
    /// `noShow`: whether the attendee was marked a no-show (absent: not said).
    pub no_show: Option<bool>,
}

/// The organizer (`payload.organizer`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Organizer {
    /// `name`.
    pub name: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `timeZone`, an IANA name.
    pub time_zone: Option<String>,
}

/// The payload fields leadroute reads; every one is optional (`null` is absent) and other
/// fields are ignored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Booking {
    /// `uid`, the booking's public id; `bookingUid` when there is no `uid`
    /// (`BOOKING_NO_SHOW_UPDATED` sends only that). A reschedule gives a new one.
    pub uid: Option<String>,
    /// `bookingId`; `id` when there is no `bookingId` and `id` is an integer (`MEETING_ENDED`
    /// sends the booking row).
    pub booking_id: Option<i64>,
    /// `title`.
    pub title: Option<String>,
    /// `startTime` (UTC).
    pub start: Option<Timestamp>,
    /// `endTime` (UTC), not before `start`.
    pub end: Option<Timestamp>,
    /// `attendees`, in Cal.com's order (the booker first).
    pub attendees: Vec<Attendee>,
    /// `organizer`.
    pub organizer: Option<Organizer>,
    /// `responses`: the booking form's answers by field name; each value is plain or
    /// `{"label": ..., "value": ...}` (read with [`Booking::response`]).
    pub responses: Map<String, Value>,
    /// `status`, as sent: `ACCEPTED`, `PENDING`, `CANCELLED`, `REJECTED`, ...
    pub status: Option<String>,
    /// `type`, the event type's slug.
    pub event_type: Option<String>,
    /// `eventTypeId`.
    pub event_type_id: Option<i64>,
    /// `rescheduleUid`: on `BOOKING_RESCHEDULED`, the uid the booking had before.
    pub reschedule_uid: Option<String>,
    /// `cancellationReason`.
    pub cancellation_reason: Option<String>,
    /// `requestReschedule` (absent is `false`): the host cancelled to have the attendee pick a
    /// new time.
    pub request_reschedule: bool,
    /// `additionalNotes`.
    pub additional_notes: Option<String>,
    /// `location`, as sent (an address, a phone number, a video link or an integration id).
    pub location: Option<String>,
}

impl Booking {
    /// The answer to the booking-form field `field` as text: a plain value, or the `value`
    /// of a `{"label", "value"}` answer. A string is trimmed, a number or a boolean written
    /// out, a list of scalars joined with `, `; `None` when the field is absent, empty,
    /// `null` or an object without a scalar `value`.
    pub fn response(&self, field: &str) -> Option<String> {
        let answer = self.responses.get(field)?;
        let value = match answer {
            Value::Object(o) => o.get("value")?,
            plain => plain,
        };
        match value {
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().filter_map(scalar_text).collect();
                non_empty(parts.join(", "))
            }
            v => scalar_text(v),
        }
    }

    /// The attendee's phone number: the booking-form answer `field` (e.g.
    /// `attendeePhoneNumber`), else the first attendee's `phoneNumber`. As entered, not
    /// normalized.
    pub fn attendee_phone(&self, field: &str) -> Option<String> {
        self.response(field).or_else(|| {
            self.attendees
                .first()
                .and_then(|a| a.phone_number.as_deref())
                .and_then(|p| non_empty(p.trim().to_string()))
        })
    }

    /// The attendee's email: the first attendee's `email`, else the booking-form answer
    /// `email`. As entered, not normalized.
    pub fn attendee_email(&self) -> Option<String> {
        self.attendees
            .first()
            .and_then(|a| a.email.as_deref())
            .and_then(|e| non_empty(e.trim().to_string()))
            .or_else(|| self.response("email"))
    }

    /// Whether any attendee is marked a no-show: `Some(true)` when one is, `Some(false)` when
    /// every attendee that carries `noShow` is `false`, `None` when none carries it.
    pub fn any_no_show(&self) -> Option<bool> {
        self.attendees
            .iter()
            .filter_map(|a| a.no_show)
            .reduce(|a, b| a || b)
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// A string (trimmed, non-empty), number or boolean as text.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => non_empty(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a Cal.com webhook body.
///
/// The envelope needs `triggerEvent` (a non-empty string) and `createdAt` (RFC 3339,
/// [`rfc3339::parse`]); `payload`, when present and not `null`, must be an object, and is
/// read into a [`Booking`]: each field it names is optional (absent or `null` is `None`),
/// and other fields are ignored.
///
/// # Errors
///
/// [`CalcomError::Malformed`] when the body is not JSON or not an object; `triggerEvent` or
/// `createdAt` is missing or bad; or a payload field leadroute reads has the wrong JSON type
/// (e.g. `uid` not a string, `attendees` not a list of objects), `startTime` or `endTime`
/// is not an RFC 3339 time, or `endTime` is before `startTime`.
pub fn parse(body: &[u8]) -> Result<Envelope, CalcomError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| malformed(format!("body is not JSON: {e}")))?;
    let Value::Object(root) = root else {
        return Err(malformed("body is not a JSON object"));
    };
    let trigger = match root.get("triggerEvent") {
        Some(Value::String(s)) if !s.is_empty() => Trigger::parse(s),
        Some(_) => return Err(malformed("triggerEvent is not a non-empty string")),
        None => return Err(malformed("triggerEvent is missing")),
    };
    let created_at = match root.get("createdAt") {
        Some(Value::String(s)) => {
            rfc3339::parse(s).map_err(|_| malformed("createdAt is not an RFC 3339 time"))?
        }
        Some(_) => return Err(malformed("createdAt is not a string")),
        None => return Err(malformed("createdAt is missing")),
    };
    let booking = match root.get("payload") {
        None | Some(Value::Null) => Booking::default(),
        Some(Value::Object(p)) => read_booking(p)?,
        Some(_) => return Err(malformed("payload is not an object")),
    };
    Ok(Envelope {
        trigger,
        created_at,
        booking,
    })
}

/// The payload object's fields (see [`Booking`]).
fn read_booking(p: &Map<String, Value>) -> Result<Booking, CalcomError> {
    let f = Fields {
        map: p,
        path: "payload",
    };
    let start = f.time("startTime")?;
    let end = f.time("endTime")?;
    if let (Some(s), Some(e)) = (start, end) {
        if e < s {
            return Err(malformed("payload.endTime is before payload.startTime"));
        }
    }
    let booking_id = match f.int("bookingId")? {
        Some(id) => Some(id),
        None => p.get("id").and_then(Value::as_i64),
    };
    let attendees = match p.get("attendees") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(read_attendee).collect::<Result<_, _>>()?,
        Some(_) => return Err(malformed("payload.attendees is not a list")),
    };
    let organizer = match f.object("organizer")? {
        None => None,
        Some(o) => {
            let o = Fields {
                map: o,
                path: "payload.organizer",
            };
            Some(Organizer {
                name: o.string("name")?,
                email: o.string("email")?,
                time_zone: o.string("timeZone")?,
            })
        }
    };
    Ok(Booking {
        uid: f.string("uid")?.or(f.string("bookingUid")?),
        booking_id,
        title: f.string("title")?,
        start,
        end,
        attendees,
        organizer,
        responses: f.object("responses")?.cloned().unwrap_or_default(),
        status: f.string("status")?,
        event_type: f.string("type")?,
        event_type_id: f.int("eventTypeId")?,
        reschedule_uid: f.string("rescheduleUid")?,
        cancellation_reason: f.string("cancellationReason")?,
        request_reschedule: f.boolean("requestReschedule")?.unwrap_or(false),
        additional_notes: f.string("additionalNotes")?,
        location: f.string("location")?,
    })
}

fn read_attendee(v: &Value) -> Result<Attendee, CalcomError> {
    let Value::Object(map) = v else {
        return Err(malformed("payload.attendees[] is not an object"));
    };
    let a = Fields {
        map,
        path: "payload.attendees[]",
    };
    Ok(Attendee {
        name: a.string("name")?,
        email: a.string("email")?,
        time_zone: a.string("timeZone")?,
        phone_number: a.string("phoneNumber")?,
        no_show: a.boolean("noShow")?,
    })
}

/// Typed optional fields of one JSON object; `path` names it in errors.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: &'static str,
}

impl<'a> Fields<'a> {
    /// The value of `key`, `None` when absent or `null`.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, key: &str, what: &str) -> CalcomError {
        malformed(format!("{}.{key} is not {what}", self.path))
    }

    fn string(&self, key: &str) -> Result<Option<String>, CalcomError> {
        self.get(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or(self.wrong(key, "a string"))
            })
            .transpose()
    }

    fn int(&self, key: &str) -> Result<Option<i64>, CalcomError> {
        self.get(key)
            .map(|v| v.as_i64().ok_or(self.wrong(key, "an integer")))
            .transpose()
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, CalcomError> {
        self.get(key)
            .map(|v| v.as_bool().ok_or(self.wrong(key, "a boolean")))
            .transpose()
    }

    fn object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, CalcomError> {
        self.get(key)
            .map(|v| v.as_object().ok_or(self.wrong(key, "an object")))
            .transpose()
    }

    fn time(&self, key: &str) -> Result<Option<Timestamp>, CalcomError> {
        self.get(key)
            .map(|v| {
                v.as_str()
                    .and_then(|s| rfc3339::parse(s).ok())
                    .ok_or(self.wrong(key, "an RFC 3339 time"))
            })
            .transpose()
    }
}

/// The identity of a delivery, for idempotency: `<triggerEvent>:<uid>:<createdAt>`, the
/// uid empty when the payload has none and `createdAt` in RFC 3339 UTC (e.g.
/// `BOOKING_CREATED:bk1:2023-05-24T09:30:00.538Z`). Cal.com retries a delivery with the same
/// body, so a retry has the same key; Cal.com sends no delivery id.
pub fn event_key(env: &Envelope) -> String {
    format!(
        "{}:{}:{}",
        env.trigger.as_str(),
        env.booking.uid.as_deref().unwrap_or(""),
        env.created_at
    )
}

// ---------------------------------------------------------------------------------------------
// Fold

/// What a booking's Cal.com events settle to (see [`fold`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingState {
    /// The appointment's lifecycle: status, start and end (UTC), reschedule count,
    /// cancellation reason.
    pub life: Life,
    /// The booking's uid now: the newest of the lineage (after reschedules).
    pub current_uid: Option<String>,
    /// Every uid of the lineage (each event's `uid` and each reschedule's `rescheduleUid`),
    /// sorted, without repeats.
    pub uids: Vec<String>,
    /// The booking awaits the host's confirmation (`BOOKING_REQUESTED`, not yet confirmed
    /// or rejected).
    pub pending_confirmation: bool,
    /// The last applied cancellation was the host's "request reschedule".
    pub reschedule_requested: bool,
    /// A `MEETING_ENDED` for the current booking was received.
    pub meeting_ended: bool,
}

/// One event as the fold sees it. The derived order is the walk's order: `createdAt`, trigger
/// rank, uid, event key, then the remaining content, so that even two deliveries with one key
/// but different bodies sort the same way whatever their input order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Step<'a> {
    created_at: Timestamp,
    rank: u8,
    uid: Option<&'a str>,
    key: String,
    trigger: Trigger,
    reschedule_uid: Option<&'a str>,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    cancellation_reason: Option<&'a str>,
    request_reschedule: bool,
    no_show: Option<bool>,
}

impl<'a> Step<'a> {
    fn of(env: &'a Envelope) -> Step<'a> {
        // An `Other("BOOKING_CREATED")` built by hand is `BookingCreated`, as its key says.
        let trigger = Trigger::parse(env.trigger.as_str());
        let b = &env.booking;
        Step {
            created_at: env.created_at,
            rank: trigger.rank(),
            uid: b.uid.as_deref(),
            key: event_key(env),
            trigger,
            reschedule_uid: b.reschedule_uid.as_deref(),
            start: b.start,
            end: b.end,
            cancellation_reason: b.cancellation_reason.as_deref(),
            request_reschedule: b.request_reschedule,
            no_show: b.any_no_show(),
        }
    }
}

/// The events of one key counted once, in walk order, without the ignored triggers.
fn steps(events: &[Envelope]) -> Vec<Step<'_>> {
    let mut all: Vec<Step<'_>> = events.iter().map(Step::of).collect();
    all.sort();
    let mut seen = HashSet::new();
    all.into_iter()
        .filter(|s| seen.insert(s.key.clone()))
        .filter(|s| !matches!(s.trigger, Trigger::Other(_)))
        .collect()
}

/// The life the first step with a start time begins with.
fn seed(step: &Step<'_>, start: Timestamp) -> Life {
    let end = step.end.filter(|e| *e >= start);
    let mut life = Life::scheduled(start, end);
    if step.trigger == Trigger::BookingRescheduled {
        life.status = AppointmentStatus::Rescheduled;
        life.reschedule_count = 1;
    }
    life
}

/// The fold's running state.
struct Walk {
    life: Life,
    current: Option<String>,
    uids: BTreeSet<String>,
    /// Uids a reschedule replaced.
    superseded: BTreeSet<String>,
    /// Uids a `BOOKING_REQUESTED` announced first.
    requested: BTreeSet<String>,
    pending_confirmation: bool,
    reschedule_requested: bool,
    meeting_ended: bool,
}

impl Walk {
    /// Applies `t` when the machine allows it; whether it was allowed (a change or a no-op).
    fn apply(&mut self, t: &Transition) -> bool {
        match lifecycle::apply(&self.life, t) {
            Ok(Some(next)) => {
                self.life = next;
                true
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Whether an event about `uid` is about the booking as it is now: no uid, or the
    /// current one.
    fn is_current(&self, uid: Option<&str>) -> bool {
        uid.is_none() || uid == self.current.as_deref()
    }

    fn step(&mut self, s: &Step<'_>) {
        let first_sighting = s.uid.is_some_and(|u| !self.uids.contains(u));
        if let Some(u) = s.uid {
            self.uids.insert(u.to_string());
            if self.current.is_none() && !self.superseded.contains(u) {
                self.current = Some(u.to_string());
            }
        }
        match s.trigger {
            Trigger::BookingRequested => {
                if first_sighting || s.uid.is_none() {
                    if let Some(u) = s.uid {
                        self.requested.insert(u.to_string());
                    }
                    self.pending_confirmation = true;
                }
            }
            Trigger::BookingCreated => {
                let confirms = s.uid.is_some_and(|u| self.requested.contains(u));
                if confirms && self.is_current(s.uid) {
                    self.apply(&Transition::Confirm);
                    self.pending_confirmation = false;
                }
            }
            Trigger::BookingRejected => {
                if self.is_current(s.uid) {
                    let reason = s.cancellation_reason.unwrap_or("rejected").to_string();
                    self.apply(&Transition::Cancel {
                        reason: Some(reason),
                    });
                    self.pending_confirmation = false;
                }
            }
            Trigger::BookingRescheduled => {
                if let Some(old) = s.reschedule_uid {
                    self.uids.insert(old.to_string());
                    self.superseded.insert(old.to_string());
                }
                if let Some(new) = s.uid {
                    if !self.superseded.contains(new) {
                        self.current = Some(new.to_string());
                    }
                }
                if let Some(start) = s.start {
                    self.apply(&Transition::Reschedule { start, end: s.end });
                }
            }
            Trigger::BookingCancelled => {
                if self.is_current(s.uid) {
                    let reason = s.cancellation_reason.map(str::to_string);
                    if self.apply(&Transition::Cancel { reason }) {
                        self.reschedule_requested = s.request_reschedule;
                    }
                }
            }
            Trigger::BookingNoShowUpdated => {
                if self.is_current(s.uid) {
                    match s.no_show {
                        Some(true) => {
                            self.apply(&Transition::NoShow);
                        }
                        Some(false)
                            if self.meeting_ended
                                && self.life.status == AppointmentStatus::NoShow =>
                        {
                            self.apply(&Transition::Complete { outcome: None });
                        }
                        _ => {}
                    }
                }
            }
            Trigger::MeetingEnded => {
                if self.is_current(s.uid) {
                    self.meeting_ended = true;
                    if self.life.status != AppointmentStatus::NoShow {
                        self.apply(&Transition::Complete { outcome: None });
                    }
                }
            }
            Trigger::Other(_) => {}
        }
    }
}

/// Settles the Cal.com events of one booking lineage (a booking and its reschedules) into
/// its state, whatever order they were delivered in.
///
/// Returns `None` when no event of the seven booking triggers carries a `startTime` (e.g.
/// only [`Trigger::Other`] events, or only a `BOOKING_NO_SHOW_UPDATED`): there is no
/// appointment to speak of yet.
///
/// # Behavior
///
/// The result is the same for any permutation of the same events, and a delivery repeated
/// (same [`event_key`]) counts once. Cal.com delivers unordered and retries, and its
/// `createdAt` is when the event happened, so the events are walked in `createdAt` order;
/// ties are broken by trigger (requested, created, rescheduled, rejected, cancelled, meeting
/// ended, no-show updated), then uid, then event key, then content.
///
/// - [`Trigger::Other`] events are ignored. Every change goes through
///   [`lifecycle::apply`]: an invalid one is skipped, so a cancelled appointment is never
///   revived and a completed one is only corrected to `no_show` (see [`crate::lifecycle`]).
/// - The first event with a `startTime` seeds `scheduled` at its start and end (UTC); a
///   `BOOKING_RESCHEDULED` seeds `rescheduled` with a reschedule count of 1 at its new time;
///   a first `BOOKING_CANCELLED` or `BOOKING_REJECTED` seeds, then cancels. The seed event
///   is walked like the others.
/// - The current uid is the first uid seen, then the `uid` of each reschedule. An event that
///   names a uid other than the current one (a uid a reschedule superseded, or one not of
///   this lineage yet) is stale: rejections, cancellations, no-show updates, meeting ends
///   and confirmations for it are ignored.
/// - `BOOKING_REQUESTED` for a new uid: still `scheduled`, `pending_confirmation`.
/// - `BOOKING_CREATED` for a uid already seen changes nothing, except after a
///   `BOOKING_REQUESTED` for that uid: the host confirmed, so `confirm` and no longer
///   pending.
/// - `BOOKING_REJECTED`: cancel with `cancellationReason`, else `rejected`; no longer
///   pending.
/// - `BOOKING_RESCHEDULED`: `rescheduleUid` joins the lineage as superseded, `uid` becomes
///   current, and the appointment moves to `startTime`/`endTime` (a reschedule: counted,
///   a no-op at the time it already has, refused once cancelled or ended).
/// - `BOOKING_CANCELLED` for the current uid: cancel with `cancellationReason`;
///   `reschedule_requested` is its `requestReschedule` when the cancel is allowed.
/// - `BOOKING_NO_SHOW_UPDATED`: an attendee marked no-show → `no_show`; every attendee
///   unmarked while `no_show` after the meeting ended → `completed`.
/// - `MEETING_ENDED`: `meeting_ended`; `completed` unless already `no_show`.
pub fn fold(events: &[Envelope]) -> Option<BookingState> {
    let steps = steps(events);
    let (first, start) = steps.iter().find_map(|s| s.start.map(|start| (s, start)))?;
    let mut walk = Walk {
        life: seed(first, start),
        current: None,
        uids: BTreeSet::new(),
        superseded: BTreeSet::new(),
        requested: BTreeSet::new(),
        pending_confirmation: false,
        reschedule_requested: false,
        meeting_ended: false,
    };
    for s in &steps {
        walk.step(s);
    }
    Some(BookingState {
        life: walk.life,
        current_uid: walk.current,
        uids: walk.uids.into_iter().collect(),
        pending_confirmation: walk.pending_confirmation,
        reschedule_requested: walk.reschedule_requested,
        meeting_ended: walk.meeting_ended,
    })
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// How a provider's Cal.com bookings become leads: which provider they count for, which
/// product each event type is, and which booking-form fields hold the phone and the ZIP code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalcomConfig {
    /// The leadroute provider the bookings come from.
    pub provider_id: String,
    /// Event type → leadroute product name; the key is the event type's slug (`type`) or its
    /// `eventTypeId` as decimal text (e.g. `"1234"`).
    pub products: BTreeMap<String, String>,
    /// The booking-form field with the attendee's phone (default `attendeePhoneNumber`,
    /// Cal.com's system field).
    #[serde(default = "default_phone_field")]
    pub phone_field: String,
    /// The booking-form field with the ZIP code (default `zip`).
    #[serde(default = "default_zip_field")]
    pub zip_field: String,
}

fn default_phone_field() -> String {
    CalcomConfig::DEFAULT_PHONE_FIELD.to_string()
}

fn default_zip_field() -> String {
    CalcomConfig::DEFAULT_ZIP_FIELD.to_string()
}

impl CalcomConfig {
    /// The default [`CalcomConfig::phone_field`]: `attendeePhoneNumber`.
    pub const DEFAULT_PHONE_FIELD: &'static str = "attendeePhoneNumber";
    /// The default [`CalcomConfig::zip_field`]: `zip`.
    pub const DEFAULT_ZIP_FIELD: &'static str = "zip";

    /// A configuration for `provider_id` with no products and the default fields.
    pub fn new(provider_id: impl Into<String>) -> CalcomConfig {
        CalcomConfig {
            provider_id: provider_id.into(),
            products: BTreeMap::new(),
            phone_field: default_phone_field(),
            zip_field: default_zip_field(),
        }
    }

    /// The product of `booking`: [`CalcomConfig::products`] by the event type's slug first,
    /// then by its `eventTypeId`; `None` when neither is mapped.
    pub fn product_for(&self, booking: &Booking) -> Option<&str> {
        let by_slug = booking
            .event_type
            .as_deref()
            .and_then(|slug| self.products.get(slug));
        by_slug
            .or_else(|| {
                booking
                    .event_type_id
                    .and_then(|id| self.products.get(&id.to_string()))
            })
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests;
