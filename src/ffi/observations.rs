//! Information Reporting from C: telling the client a value changed, listing what the servers
//! observe, and Send.

use core::ffi::c_char;

use super::client::{lwm2mc_client, with_client};
use super::config::parse_path;
use super::guard::{copy_out, write_out};
use super::result::lwm2mc_result;

/// Tells the client that the value at `path` ("/3303/0/5700", "/3303/0") changed, for objects
/// whose values the application holds through callbacks: observations that see it may send a
/// notification at the next `lwm2mc_client_step`. Values set with `lwm2mc_client_set_*` need
/// no such call.
///
/// # Safety
/// `client` must be NULL or a live client; `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_changed(
    client: *mut lwm2mc_client,
    path: *const c_char,
) -> lwm2mc_result {
    with_client(client, |c| {
        // SAFETY: per this function's contract.
        let p = unsafe { parse_path(path) }?;
        c.core()?.changed(&p);
        Ok(())
    })
}

/// Writes how many observations the client serves (all servers) to `out`.
///
/// # Safety
/// `client` must be NULL or a live client; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_observation_count(
    client: *const lwm2mc_client,
    out: *mut usize,
) -> lwm2mc_result {
    with_client(client.cast_mut(), |c| {
        let n = c.core_ref()?.observations().len();
        // SAFETY: per this function's contract.
        unsafe { write_out(out, n) }
    })
}

/// Observation `index` (0-based, oldest first, below `lwm2mc_client_observation_count`): the
/// observing server's Short Server ID to `ssid_out` and the observed path, NUL-terminated, to
/// `path_buf` (`cap` bytes; 32 always suffice), the bytes written, NUL included, to `out_len`.
/// NOT_FOUND past the last one;
/// INSUFFICIENT_SIZE with the size needed in `out_len` when `cap` is too small.
///
/// # Safety
/// `client` must be NULL or a live client; `ssid_out` and `out_len` valid for writes;
/// `path_buf` writable for `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_observation(
    client: *const lwm2mc_client,
    index: usize,
    ssid_out: *mut u16,
    path_buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> lwm2mc_result {
    with_client(client.cast_mut(), |c| {
        if ssid_out.is_null() || out_len.is_null() || (path_buf.is_null() && cap > 0) {
            return Err(lwm2mc_result::NullParameter);
        }
        let all = c.core_ref()?.observations();
        let (ssid, path) = all.get(index).ok_or(lwm2mc_result::NotFound)?;
        let mut text = path.to_string().into_bytes();
        text.push(0);
        // SAFETY: per this function's contract.
        unsafe { copy_out(&text, path_buf.cast(), cap, out_len) }?;
        // SAFETY: per this function's contract.
        unsafe { write_out(ssid_out, *ssid) }
    })
}

/// LwM2M 1.1 Send: pushes the current values at `paths` (`n_paths` NUL-terminated strings,
/// e.g. "/3/0/9", "/3303/0") to server `short_server_id` as one SenML pack (`POST /dp`). The
/// answer comes later as a SEND_COMPLETED or SEND_REJECTED event. Nothing is sent when the
/// result is not OK: UNSUPPORTED in LwM2M 1.0 mode, INVALID_STATE when not registered with
/// that server or it muted Send (`/1/x/23`), NOT_FOUND for a path that cannot be read,
/// INVALID_ARGUMENT for no path, a malformed one, or a pack over the payload limit.
///
/// # Safety
/// `client` must be NULL or a live client; `paths` readable for `n_paths` pointers, each
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_send(
    client: *mut lwm2mc_client,
    now_ms: u64,
    short_server_id: u16,
    paths: *const *const c_char,
    n_paths: usize,
) -> lwm2mc_result {
    use crate::client::SendError;
    with_client(client, |c| {
        if paths.is_null() && n_paths > 0 {
            return Err(lwm2mc_result::NullParameter);
        }
        let mut parsed = Vec::with_capacity(n_paths.min(64));
        for k in 0..n_paths {
            // SAFETY: per this function's contract, `paths` has `n_paths` readable pointers.
            let p = unsafe { *paths.add(k) };
            // SAFETY: each is NULL (refused) or NUL-terminated, per the contract.
            parsed.push(unsafe { parse_path(p) }?);
        }
        c.core()?
            .send(now_ms, short_server_id, &parsed)
            .map_err(|e| match e {
                SendError::Version => lwm2mc_result::Unsupported,
                SendError::NotRegistered(_) | SendError::Muted(_) => lwm2mc_result::InvalidState,
                SendError::Unreadable { .. } => lwm2mc_result::NotFound,
                SendError::Empty | SendError::TooLarge(_) => lwm2mc_result::InvalidArgument,
            })?;
        c.flush()
    })
}

/// Offline mode (the link is down): while `offline` is true nothing new is sent — Register
/// and Update wait, notifications are stored (all of them in order when the server's
/// `/1/x/6` Notification Storing is true, else the latest per observation). Back online
/// (`false`), every registration sends an Update and the stored notifications follow it.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_set_offline(
    client: *mut lwm2mc_client,
    now_ms: u64,
    offline: bool,
) -> lwm2mc_result {
    with_client(client, |c| {
        c.core()?.set_offline(now_ms, offline);
        c.flush()
    })
}
