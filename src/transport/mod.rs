//! Adapters that carry the sans-I/O core over real transports.

#[cfg(feature = "std")]
pub mod udp;
