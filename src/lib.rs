//! lwm2mc: an OMA LwM2M client with a sans-I/O core.
//!
//! The core ([`client::Client`]) is a state machine fed with datagrams and the current time and
//! asked for datagrams to send, the next timer and events (DESIGN.md §1). Adapters around it: a
//! std UDP loop (`transport::udp`), the C ABI (`ffi`), and the `testkit` servers.

#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod coap;
pub mod codec;
pub mod model;
pub mod path;
pub mod persist;
pub mod rng;
#[cfg(feature = "std")]
pub mod storage_file;
pub mod store;
pub mod value;

pub use path::Path;
pub use store::Store;
pub use value::{ResourceType, ResourceValue, Value};
