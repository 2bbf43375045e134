//! The CoAP message layer (RFC 7252 §4–§5.3), sans-I/O, on top of `coap_lite::Packet`.
//!
//! - [`TransmissionParams`]: RFC 7252 §4.8 parameters and derived times.
//! - [`msg`]: code constants and option helpers for the layers above.
//!
//! Time is a `u64` millisecond count passed in by the caller; randomness (tokens, initial MIDs,
//! retransmission jitter) comes from [`crate::rng::Rng`] seeded by the caller.

pub mod msg;
mod params;

pub use coap_lite::Packet;
pub use params::TransmissionParams;
