//! [`ErrorKind`]: what a failure means to the caller, at the bottom of the module graph.
//!
//! Every module error answers `kind()` (this enum) and `code()` (a stable snake_case reason
//! code), so that callers, the HTTP layer and the Python bindings decide what to do without
//! matching every variant. This module imports nothing from the crate.

/// What kind of failure an error is: map it to an HTTP status, retry, or give up.
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

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
