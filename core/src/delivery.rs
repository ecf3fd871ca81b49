//! delivery
/// Errors of delivery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// Bad URL.
    #[error("bad url {0:?}")]
    BadUrl(String),
}
impl DeliveryError {
    /// Kind.
    pub fn kind(&self) -> crate::ErrorKind { crate::ErrorKind::InvalidInput }
}
