//! Several servers and queue mode from C: each server's registration state, and queue mode
//! switched on in the configuration (its sleep and wake arrive as events).

#![allow(non_camel_case_types)]

use super::client::{lwm2mc_client, with_client};
use super::config::{lwm2mc_config, with_config};
use super::guard::write_out;
use super::result::lwm2mc_result;
use crate::client::RegistrationState;

/// Where the registration with one server stands.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lwm2mc_registration_state {
    /// Not registered; a Register is scheduled (first attempt or a retry).
    Idle = 0,
    /// Waiting for its turn in the Registration Priority Order (`/1/x/13`).
    Waiting = 1,
    /// Disabled (`/1/x/4`) until its Disable Timeout is over.
    Disabled = 2,
    /// A Register is in flight.
    Registering = 3,
    /// Registered.
    Registered = 4,
    /// Registered, an Update in flight.
    Updating = 5,
    /// A De-register in flight.
    Deregistering = 6,
    /// Every attempt failed.
    Failed = 7,
}

/// Writes the registration state with server `short_server_id`; NOT_FOUND for no such
/// server account.
///
/// # Safety
/// `client` must be NULL or a live client; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_registration_state(
    client: *const lwm2mc_client,
    short_server_id: u16,
    out: *mut lwm2mc_registration_state,
) -> lwm2mc_result {
    with_client(client.cast_mut(), |c| {
        let state = c
            .core_ref()?
            .registration_state(short_server_id)
            .ok_or(lwm2mc_result::NotFound)?;
        let state = match state {
            RegistrationState::Idle => lwm2mc_registration_state::Idle,
            RegistrationState::Waiting => lwm2mc_registration_state::Waiting,
            RegistrationState::Disabled => lwm2mc_registration_state::Disabled,
            RegistrationState::Registering => lwm2mc_registration_state::Registering,
            RegistrationState::Registered => lwm2mc_registration_state::Registered,
            RegistrationState::Updating => lwm2mc_registration_state::Updating,
            RegistrationState::Deregistering => lwm2mc_registration_state::Deregistering,
            _ => lwm2mc_registration_state::Failed,
        };
        // SAFETY: per this function's contract.
        unsafe { write_out(out, state) }
    })
}

/// Queue mode (LwM2M 1.1 `Q` on Register, 1.0 binding `UQ`): after MAX_TRANSMIT_WAIT without
/// a datagram the client reports SLEEPING (the radio may be off until the time
/// `lwm2mc_client_step` returns), and AWAKE when it sends or receives again; a notification
/// or Send due while asleep goes out after an Update. Off by default.
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_queue_mode(
    config: *mut lwm2mc_config,
    queue_mode: bool,
) -> lwm2mc_result {
    with_config(config, |c| {
        c.config.queue_mode = queue_mode;
        Ok(())
    })
}
