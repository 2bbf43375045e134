//! lwm2mc: an OMA LwM2M client with a sans-I/O core.
//!
//! The core ([`Client`]) is a state machine fed with datagrams and the current time and asked
//! for datagrams to send, the next timer and events (DESIGN.md §1). Adapters around it: a std
//! UDP loop ([`transport::udp`]), the C ABI (`ffi`), and the `testkit` servers.
//!
//! ```no_run
//! use lwm2mc::{accounts::factory, Client, Config, Store};
//! use lwm2mc::transport::udp::UdpClient;
//!
//! let mut store = Store::with_standard_objects();
//! factory::add_bootstrap_account(&mut store, "coap://127.0.0.1:5783", 0).unwrap();
//! factory::add_device(&mut store, "ACME", "Sensor-1", "0001").unwrap();
//! let client = Client::new(Config::new("my-device"), store);
//! let mut udp = UdpClient::bind(client, "127.0.0.1:0".parse().unwrap()).unwrap();
//! udp.start().unwrap();
//! loop {
//!     for event in udp.turn(std::time::Duration::from_secs(1)).unwrap() {
//!         println!("{event:?}");
//!     }
//! }
//! ```

#![forbid(unsafe_op_in_unsafe_fn)]
// docs.rs (nightly, `--cfg docsrs`) marks feature-gated items; stable builds never see this.
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod accounts;
pub mod bootstrap;
mod bootstrapping;
pub mod client;
pub mod coap;
pub mod codec;
pub mod config;
pub mod dm;
pub mod event;
#[cfg(feature = "std")]
pub mod ffi;
pub mod model;
pub mod object;
pub mod path;
pub mod peer;
pub mod persist;
pub mod registration;
mod registrations;
pub mod request;
pub mod rng;
pub mod smartcard;
#[cfg(feature = "std")]
pub mod storage_file;
pub mod store;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
mod timers;
pub mod trace;
pub mod transaction;
pub mod transport;
pub mod uri;
pub mod value;

pub use client::{Client, Transmit};
pub use config::{Config, RootFormats, Version};
pub use event::Event;
pub use path::Path;
pub use peer::{PeerId, PeerInfo};
pub use store::Store;
pub use value::{ResourceType, ResourceValue, Value};
