//! The C ABI (DESIGN §4, modelled on rustls-ffi): opaque `lwm2mc_config` and `lwm2mc_client`
//! handles, `lwm2mc_result` codes from every fallible function, callbacks with userdata first
//! for transport, storage, application objects and logging. Every exported function catches
//! panics, checks every pointer, validates strings as UTF-8, and writes outputs only on success
//! (the one exception: INSUFFICIENT_SIZE reports the needed length).

pub mod adapters;
pub mod client;
pub mod config;
pub mod events;
pub mod firmware;
mod flush;
pub mod guard;
pub mod observations;
pub mod result;
pub mod security;
pub mod servers;
pub mod types;
pub mod values;
