//! The crate error: one enum wrapping each module's error, with a retry-oriented [`ErrorKind`].

use crate::auth::AuthError;
use crate::capacity::CapacityError;
use crate::delivery::DeliveryError;
use crate::intake::IntakeError;
use crate::phone::PhoneError;
use crate::routing::RoutingError;
use crate::schedule::ScheduleError;
use crate::seed::SeedError;
use crate::storage::StorageError;
use crate::zip::ZipError;

/// What kind of failure an [`Error`] is, so that callers can decide what to do without
/// matching every variant: map to an HTTP status, retry, or give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is wrong; retrying the same input fails again (HTTP 400/422).
    InvalidInput,
    /// The caller is not authenticated (HTTP 401).
    Unauthorized,
    /// The caller is authenticated but not allowed to do this (HTTP 403).
    Forbidden,
    /// The caller sent too much; retry later (HTTP 429).
    RateLimited,
    /// A named thing does not exist (HTTP 404).
    NotFound,
    /// The request conflicts with stored state (HTTP 409).
    Conflict,
    /// A transient failure; the same call may succeed later (HTTP 503).
    Temporary,
    /// The storage backend failed.
    Storage,
    /// A bug or broken invariant in leadroute.
    Internal,
}

impl ErrorKind {
    /// Whether retrying the same call later can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::RateLimited | ErrorKind::Temporary)
    }

    /// snake_case name, e.g. `invalid_input`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Temporary => "temporary",
            ErrorKind::Storage => "storage",
            ErrorKind::Internal => "internal",
        }
    }
}

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
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Phone(_) | Error::Zip(_) | Error::Routing(_) | Error::Seed(_) => {
                ErrorKind::InvalidInput
            }
            Error::Capacity(CapacityError::OutOfRange) => ErrorKind::Internal,
            Error::Capacity(_) | Error::Schedule(_) => ErrorKind::InvalidInput,
            Error::Intake(e) => e.kind(),
            Error::Auth(e) => e.kind(),
            Error::Delivery(e) => e.kind(),
            Error::Storage(StorageError::Conflict(_)) => ErrorKind::Conflict,
            Error::Storage(StorageError::Busy(_)) => ErrorKind::Temporary,
            Error::Storage(_) => ErrorKind::Storage,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
