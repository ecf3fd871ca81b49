//! [`StorageError`]: a backend failure with a kind the caller can act on, and its source.

use crate::kind::ErrorKind;

/// What kind of storage failure a [`StorageError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// The row an update or delete names does not exist.
    NotFound,
    /// A uniqueness, foreign-key or check constraint refused the write (e.g. the same record
    /// key twice, a rule naming a workspace that does not exist).
    Conflict,
    /// The backend is busy, locked, unreachable or asked for the transaction to be retried
    /// (a serialization failure or deadlock); the same call may succeed later.
    Unavailable,
    /// Stored data could not be decoded (a bad enum value, malformed JSON, a bad timestamp).
    Corrupt,
    /// Any other backend failure (I/O, SQL error, migration failure).
    Backend,
}

impl StorageErrorKind {
    /// Stable snake_case code: `not_found`, `conflict`, `unavailable`, `corrupt`, `backend`.
    pub fn code(self) -> &'static str {
        match self {
            StorageErrorKind::NotFound => "not_found",
            StorageErrorKind::Conflict => "conflict",
            StorageErrorKind::Unavailable => "unavailable",
            StorageErrorKind::Corrupt => "corrupt",
            StorageErrorKind::Backend => "backend",
        }
    }
}

/// A failure of a storage backend: its [`StorageErrorKind`], a message naming the operation,
/// and the backend's own error as [`std::error::Error::source`] when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", self.describe())]
pub struct StorageError {
    kind: StorageErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StorageError {
    /// An error of `kind` with `message`.
    pub fn new(kind: StorageErrorKind, message: impl Into<String>) -> StorageError {
        StorageError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// [`StorageErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> StorageError {
        StorageError::new(StorageErrorKind::NotFound, message)
    }

    /// [`StorageErrorKind::Conflict`].
    pub fn conflict(message: impl Into<String>) -> StorageError {
        StorageError::new(StorageErrorKind::Conflict, message)
    }

    /// [`StorageErrorKind::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> StorageError {
        StorageError::new(StorageErrorKind::Unavailable, message)
    }

    /// [`StorageErrorKind::Corrupt`].
    pub fn corrupt(message: impl Into<String>) -> StorageError {
        StorageError::new(StorageErrorKind::Corrupt, message)
    }

    /// [`StorageErrorKind::Backend`].
    pub fn backend(message: impl Into<String>) -> StorageError {
        StorageError::new(StorageErrorKind::Backend, message)
    }

    /// This error with `source` as its cause.
    pub fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StorageError {
        self.source = Some(Box::new(source));
        self
    }

    /// This error with `op: ` before its message (the operation that failed); kind and
    /// source are kept.
    pub fn context(mut self, op: &str) -> StorageError {
        self.message = format!("{op}: {}", self.message);
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> StorageErrorKind {
        self.kind
    }

    /// The message (without the kind's description).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the same call may succeed later ([`StorageErrorKind::Unavailable`]).
    pub fn is_retryable(&self) -> bool {
        self.kind == StorageErrorKind::Unavailable
    }

    /// The crate-level [`ErrorKind`]: `NotFound`, `Conflict`, `Temporary` (unavailable), or
    /// `Storage` (corrupt data, other backend failures).
    pub fn error_kind(&self) -> ErrorKind {
        match self.kind {
            StorageErrorKind::NotFound => ErrorKind::NotFound,
            StorageErrorKind::Conflict => ErrorKind::Conflict,
            StorageErrorKind::Unavailable => ErrorKind::Temporary,
            StorageErrorKind::Corrupt | StorageErrorKind::Backend => ErrorKind::Storage,
        }
    }

    /// Stable snake_case code of the kind (see [`StorageErrorKind::code`]).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    fn describe(&self) -> &'static str {
        match self.kind {
            StorageErrorKind::NotFound => "no such row",
            StorageErrorKind::Conflict => "constraint violated",
            StorageErrorKind::Unavailable => "storage temporarily unavailable",
            StorageErrorKind::Corrupt => "stored data is corrupt",
            StorageErrorKind::Backend => "storage backend error",
        }
    }
}
