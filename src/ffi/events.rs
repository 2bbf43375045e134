//! `lwm2mc_client_next_event`: the events of a client, handed to C one at a time.

#![allow(non_camel_case_types)]

use core::ffi::c_char;
use std::ffi::CString;

use super::client::{lwm2mc_client, with_client};
use super::guard::write_out;
use super::result::lwm2mc_result;
use super::types::*;
use crate::event::Event;

fn event_kind(ev: &Event) -> Option<lwm2mc_event_kind> {
    Some(match ev {
        Event::Bootstrapped => lwm2mc_event_kind::Bootstrapped,
        Event::BootstrapFailed { .. } => lwm2mc_event_kind::BootstrapFailed,
        Event::Registered { .. } => lwm2mc_event_kind::Registered,
        Event::RegistrationUpdated { .. } => lwm2mc_event_kind::RegistrationUpdated,
        Event::RegistrationFailed { .. } => lwm2mc_event_kind::RegistrationFailed,
        Event::Deregistered { .. } => lwm2mc_event_kind::Deregistered,
        Event::Executed { .. } => lwm2mc_event_kind::Executed,
        Event::Written { .. } => lwm2mc_event_kind::Written,
        Event::StorageError { .. } => lwm2mc_event_kind::StorageError,
        Event::SmartcardProvisioned => lwm2mc_event_kind::SmartcardProvisioned,
        Event::SmartcardRemoved => lwm2mc_event_kind::SmartcardRemoved,
        Event::BootstrapAccountPurged => lwm2mc_event_kind::BootstrapAccountPurged,
        Event::Created { .. } => lwm2mc_event_kind::Created,
        Event::Deleted { .. } => lwm2mc_event_kind::Deleted,
        Event::BootstrapFinishRefused { .. } => lwm2mc_event_kind::BootstrapFinishRefused,
        Event::EventsDropped { .. } => lwm2mc_event_kind::EventsDropped,
        Event::SendFailed { .. } => lwm2mc_event_kind::SendFailed,
        Event::ObservationStarted { .. } => lwm2mc_event_kind::ObservationStarted,
        Event::ObservationCancelled { .. } => lwm2mc_event_kind::ObservationCancelled,
        Event::SendCompleted { .. } => lwm2mc_event_kind::SendCompleted,
        Event::SendRejected { .. } => lwm2mc_event_kind::SendRejected,
        Event::FirmwareUpdateAwaitingUser => lwm2mc_event_kind::FirmwareUpdateAwaitingUser,
        Event::SecureSessionEstablished { .. } => lwm2mc_event_kind::SecureSessionEstablished,
        Event::SecureSessionFailed { .. } => lwm2mc_event_kind::SecureSessionFailed,
        Event::Sleeping => lwm2mc_event_kind::Sleeping,
        Event::Awake => lwm2mc_event_kind::Awake,
    })
}

/// Takes the oldest pending event into `*out`; LWM2MC_RESULT_NOT_FOUND when there is none.
/// The event's `data` and `message` stay valid until the next call on this client.
///
/// # Safety
/// `client` must be NULL or a live client; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_next_event(
    client: *mut lwm2mc_client,
    out: *mut lwm2mc_event,
) -> lwm2mc_result {
    with_client(client, |c| {
        if out.is_null() {
            return Err(lwm2mc_result::NullParameter);
        }
        let ev = loop {
            let ev = c.events.pop().ok_or(lwm2mc_result::NotFound)?;
            if event_kind(&ev).is_some() {
                break ev;
            }
        };
        let kind = event_kind(&ev).ok_or(lwm2mc_result::Internal)?;
        let (ssid, path, data, message) = match &ev {
            Event::BootstrapFailed { reason, .. }
            | Event::BootstrapFinishRefused { reason }
            | Event::StorageError { reason } => (0, None, Vec::new(), reason.clone()),
            Event::Registered { ssid, location } => (*ssid, None, Vec::new(), location.clone()),
            Event::SendFailed { reason, .. } | Event::SecureSessionFailed { reason, .. } => {
                (0, None, Vec::new(), reason.clone())
            }
            Event::SecureSessionEstablished {
                cipher_suite,
                resumed,
                ..
            } => (
                0,
                None,
                Vec::new(),
                if *resumed {
                    format!("{cipher_suite} (resumed)")
                } else {
                    cipher_suite.clone()
                },
            ),
            Event::EventsDropped { count } => {
                (0, None, Vec::new(), format!("{count} events dropped"))
            }
            Event::RegistrationFailed { ssid, reason, .. } => {
                (*ssid, None, Vec::new(), reason.clone())
            }
            Event::SendRejected { ssid, reason } => (*ssid, None, Vec::new(), reason.clone()),
            Event::RegistrationUpdated { ssid }
            | Event::Deregistered { ssid }
            | Event::SendCompleted { ssid } => (*ssid, None, Vec::new(), String::new()),
            Event::Executed { ssid, path, args } => {
                (*ssid, Some(*path), args.clone(), String::new())
            }
            Event::Written { ssid, path }
            | Event::Created { ssid, path }
            | Event::Deleted { ssid, path }
            | Event::ObservationStarted { ssid, path }
            | Event::ObservationCancelled { ssid, path } => {
                (*ssid, Some(*path), Vec::new(), String::new())
            }
            _ => (0, None, Vec::new(), String::new()),
        };
        let mut path_buf: [c_char; 32] = [0; 32];
        if let Some(p) = path {
            for (dst, b) in path_buf.iter_mut().zip(p.to_string().bytes().take(31)) {
                *dst = b as c_char;
            }
        }
        c.held_message = CString::new(message.replace('\0', " ")).unwrap_or_default();
        c.held_data = data;
        let e = lwm2mc_event {
            kind,
            ssid,
            path: path_buf,
            data: c.held_data.as_ptr(),
            data_len: c.held_data.len(),
            message: c.held_message.as_ptr(),
        };
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, e) }
    })
}
