//! The CoAP message layer (RFC 7252 §4–§5.3), sans-I/O. Datagrams are read in place
//! (`message::Message`); what outlives its datagram, the client's own requests and the
//! responses they get, is a `message_buf::MessageBuf` (options kept in wire form). The public
//! API (`Endpoint::handle_datagram`, `Incoming`) and the testkit speak `coap_lite::Packet`.
//!
//! - [`Endpoint`]: message IDs, tokens, CON retransmission, NSTART, deduplication, ping/RST.
//! - [`TransmissionParams`]: RFC 7252 §4.8 parameters and derived times.
//! - [`msg`]: code constants and option helpers for the layers above.
//!
//! Time is a `u64` millisecond count passed in by the caller; randomness (tokens, initial MIDs,
//! retransmission jitter) comes from [`crate::rng::Rng`] seeded by the caller.

pub(crate) mod blockwise;
mod dedup;
pub(crate) mod endpoint;
mod exchange;
pub(crate) mod message;
pub(crate) mod message_buf;
pub mod msg;
mod options;
mod params;
pub(crate) mod wire;

pub use coap_lite::Packet;
pub use endpoint::{Endpoint, ExchangeId, Failure, Incoming};
pub use params::TransmissionParams;
