//! Adapters that carry the sans-I/O core over real transports.

#[cfg(feature = "dtls")]
#[cfg_attr(docsrs, doc(cfg(feature = "dtls")))]
pub mod dtls;
#[cfg(feature = "std")]
pub mod udp;
