//! intake
/// Errors of intake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// The provider is unknown.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
}
impl IntakeError {
    /// Kind.
    pub fn kind(&self) -> crate::ErrorKind { crate::ErrorKind::NotFound }
}
