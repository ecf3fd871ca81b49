//! The crate error: one enum wrapping each module's error, with a retry-oriented [`ErrorKind`].

use crate::auth::AuthError;
use crate::booking::BookingError;
use crate::calcom::CalcomError;
use crate::capacity::CapacityError;
use crate::delivery::DeliveryError;
use crate::intake::IntakeError;
use crate::lifecycle::LifecycleError;
use crate::phone::PhoneError;
use crate::returns::ReturnError;
use crate::routing::RoutingError;
use crate::schedule::ScheduleError;
use crate::seed::SeedError;
use crate::storage_error::StorageError;
use crate::zip::ZipError;

pub use crate::kind::ErrorKind;

/// Any leadroute error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A phone number could not be normalized.
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// A ZIP code or the ZIP table is bad.
    #[error(transparent)]
    Zip(#[from] ZipError),
    /// A provider or its records could not be read.
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// Routing rules could not be compiled.
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// A provider request failed authentication, its signature check, or its rate limit.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A Cal.com booking webhook was refused (no secret, missing or bad signature) or could
    /// not be read.
    #[error(transparent)]
    Calcom(#[from] CalcomError),
    /// A capacity configuration (caps, budget, time zone) is invalid.
    #[error(transparent)]
    Capacity(#[from] CapacityError),
    /// A workspace schedule is invalid.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// Seed configuration JSON could not be read.
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// A delivery could not be prepared or sent.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// A booking refused: not a slot of the calendar, too soon, the slot taken, …
    #[error(transparent)]
    Booking(#[from] BookingError),
    /// An appointment lifecycle refusal.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// A return refused by the workspace's policy, or not in a state to decide.
    #[error(transparent)]
    Return(#[from] ReturnError),
    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A named entity does not exist.
    #[error("{entity} not found: {id}")]
    NotFound {
        /// What was looked for, e.g. `provider`.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// A broken invariant inside leadroute.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The kind of this error (the wrapped module error's own [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Phone(e) => e.kind(),
            Error::Zip(e) => e.kind(),
            Error::Intake(e) => e.kind(),
            Error::Routing(e) => e.kind(),
            Error::Auth(e) => e.kind(),
            Error::Calcom(e) => e.kind(),
            Error::Capacity(e) => e.kind(),
            Error::Schedule(e) => e.kind(),
            Error::Seed(e) => e.kind(),
            Error::Delivery(e) => e.kind(),
            Error::Booking(e) => e.kind(),
            Error::Lifecycle(e) => e.kind(),
            Error::Return(e) => e.kind(),
            Error::Storage(e) => e.error_kind(),
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The stable snake_case reason code of this error: the wrapped module error's own
    /// `code()` (e.g. `invalid_number`, `bad_signature`, `provider_inactive`,
    /// `unknown_product`, `conflict`), `unknown_<entity>` for [`Error::NotFound`] (e.g.
    /// `unknown_appointment`), `internal` for [`Error::Internal`]. One code per fact,
    /// whichever path raised it.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Phone(e) => e.code(),
            Error::Zip(e) => e.code(),
            Error::Intake(e) => e.code(),
            Error::Routing(e) => e.code(),
            Error::Auth(e) => e.code(),
            Error::Calcom(e) => e.code(),
            Error::Capacity(e) => e.code(),
            Error::Schedule(e) => e.code(),
            Error::Seed(e) => e.code(),
            Error::Delivery(e) => e.code(),
            Error::Booking(e) => e.code(),
            Error::Lifecycle(e) => e.code(),
            Error::Return(e) => e.code(),
            Error::Storage(e) => e.code(),
            Error::NotFound { entity, .. } => not_found_code(entity),
            Error::Internal(_) => "internal",
        }
    }
}

/// `unknown_<entity>` for the entities the engine looks up.
fn not_found_code(entity: &str) -> &'static str {
    match entity {
        "appointment" => "unknown_appointment",
        "workspace" => "unknown_workspace",
        "provider" => "unknown_provider",
        "lead" => "unknown_lead",
        "contact" => "unknown_contact",
        "delivery" => "unknown_delivery",
        "webhook" => "unknown_webhook",
        "return" => "unknown_return",
        _ => "not_found",
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
