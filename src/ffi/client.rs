//! `lwm2mc_client`: the client behind an opaque handle, driven by the host (transport hook,
//! `handle_datagram` + `step`) or by the built-in UDP loop (`bind_udp` + `poll_udp`).

#![allow(non_camel_case_types)]

use core::ffi::c_char;
use std::cell::UnsafeCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::adapters::{CObject, CStorage};
use super::config::{lwm2mc_config, store_error, LogHook, StorageChoice};
use super::guard::{as_bytes, as_ref, as_str, guard, write_out, FfiResult, FreeClaim, Gate};
use super::result::lwm2mc_result;
use super::types::*;
use crate::client::Client;
use crate::event::EventQueue;
use crate::peer::PeerId;
use crate::transport::udp::{Direction, UdpClient};

// One per client, built once and never moved in a hot path: boxing would only add a pointer.
#[allow(clippy::large_enum_variant)]
pub(super) enum Mode {
    /// Driven by the host through the transport hook.
    Hooked(Client),
    /// Driven by the built-in UDP loop.
    Udp(UdpClient),
    /// Only while switching modes.
    Switching,
}

/// A client (opaque to C). It may be called from several threads, one call at a time: a call
/// made from one of its own callbacks returns LWM2MC_RESULT_REENTRANT_CALL, one made from
/// another thread while a call runs returns LWM2MC_RESULT_BUSY; neither does anything, so the
/// same call can be made again later. Callbacks run on the thread whose call runs them.
// The gate decides who is inside a call and defers a free asked for during one; everything
// else lives in `state`, which only the thread holding the gate touches.
pub struct lwm2mc_client {
    gate: Gate,
    state: UnsafeCell<ClientState>,
}

pub(super) struct ClientState {
    pub(super) mode: Mode,
    pub(super) transport: Option<lwm2mc_transport>,
    /// Host peer handles of the peers opened through the transport hook.
    pub(super) opened: BTreeMap<PeerId, usize>,
    /// Peers whose `open` returned a handle another peer holds: never opened, not retried.
    pub(super) refused: BTreeSet<PeerId>,
    /// Peers the client added whose `open` did not succeed yet: tried at every call.
    pub(super) pending_open: BTreeSet<PeerId>,
    pub(super) log: Logger,
    /// Set when a callback asked for this client to be freed: no more callbacks run.
    pub(super) dying: Arc<AtomicBool>,
    /// Datagrams the transport hook's `send` failed to send.
    pub(super) send_failures: u64,
    /// The datagram being handed to the transport hook's `send`: one buffer for all of them.
    pub(super) send_buf: Vec<u8>,
    pub(super) events: EventQueue,
    /// Storage behind the pointers of the last event handed out.
    pub(super) held_message: CString,
    pub(super) held_data: Vec<u8>,
}

/// The log hook, silent once the client is being freed.
#[derive(Clone)]
pub(super) struct Logger {
    hook: Option<LogHook>,
    dying: Arc<AtomicBool>,
}

// SAFETY: the logger rides in the UDP loop's tap (which must be Send); it is only called from
// inside a client call, on the thread holding the client's gate.
unsafe impl Send for Logger {}

impl Logger {
    /// Log lines go out only at points where the client's state is consistent.
    pub(super) fn log(&self, level: u32, line: &str) {
        let Some(h) = self.hook else { return };
        if self.dying.load(Ordering::SeqCst) {
            return;
        }
        let Ok(c) = CString::new(line.replace('\0', " ")) else {
            return;
        };
        // SAFETY: the hook was given by the application with its userdata; c is
        // NUL-terminated and lives across the call.
        unsafe { (h.log)(h.userdata, level, c.as_ptr()) };
    }

    /// `log` of a line made only if there is a hook to take it: the lines of every datagram
    /// and event would otherwise be formatted for nobody on each send and event.
    pub(super) fn log_with(&self, level: u32, line: impl FnOnce() -> String) {
        if self.hook.is_some() && !self.dying.load(Ordering::SeqCst) {
            self.log(level, &line());
        }
    }
}

impl ClientState {
    pub(super) fn core(&mut self) -> FfiResult<&mut Client> {
        match &mut self.mode {
            Mode::Hooked(c) => Ok(c),
            Mode::Udp(u) => Ok(u.client_mut()),
            Mode::Switching => Err(lwm2mc_result::Internal),
        }
    }

    pub(super) fn core_ref(&self) -> FfiResult<&Client> {
        match &self.mode {
            Mode::Hooked(c) => Ok(c),
            Mode::Udp(u) => Ok(u.client()),
            Mode::Switching => Err(lwm2mc_result::Internal),
        }
    }
}

/// Runs `f` on a client's state with its gate held. Queries that change nothing take a
/// `const lwm2mc_client *` and pass it here cast: the state sits in an `UnsafeCell` behind the
/// gate, so no `&mut` is ever made from a shared C pointer without holding it. A call from one of the client's callbacks
/// gets ReentrantCall, one from another thread while a call runs gets Busy; neither does
/// anything. If a callback freed the client during `f`, the client is freed here, after `f`.
pub(super) fn with_client(
    client: *mut lwm2mc_client,
    f: impl FnOnce(&mut ClientState) -> FfiResult,
) -> lwm2mc_result {
    guard(|| {
        if client.is_null() {
            return Err(lwm2mc_result::NullParameter);
        }
        // SAFETY: non-NULL; the exported functions document that it must be a live client.
        // The gate is only ever used through shared references.
        let gate: &Gate = unsafe { &(*client).gate };
        gate.enter()?;
        let r = guard(|| {
            // SAFETY: the gate is held by this thread, so no other call (and no callback
            // re-entering, refused by enter) reaches the state until `leave`.
            let state = unsafe { &mut *(*client).state.get() };
            f(state)
        });
        if gate.leave() {
            // SAFETY: a callback asked for the free while we held the gate, which stays
            // closed; nothing refers to the client any more.
            unsafe { destroy(client) };
        }
        match r {
            lwm2mc_result::Ok => Ok(()),
            r => Err(r),
        }
    })
}

/// Frees a client and closes the peers still open through the transport hook.
///
/// # Safety
/// `client` came from `lwm2mc_client_new`, its gate is held for good by the caller, and
/// nothing else refers to it.
unsafe fn destroy(client: *mut lwm2mc_client) {
    // The close callbacks run while the allocation is intact: one calling the client finds
    // the gate closed (REENTRANT_CALL), one freeing it again is deferred to this free.
    {
        // SAFETY: the caller holds the gate for good: nothing else touches the state.
        let state = unsafe { &mut *(*client).state.get() };
        state.dying.store(true, Ordering::SeqCst);
        let opened = std::mem::take(&mut state.opened);
        if let Some(close) = state
            .transport
            .and_then(|t| t.close.map(|c| (t.userdata, c)))
        {
            for h in opened.into_values() {
                // SAFETY: the host's own handle, given back once.
                unsafe { (close.1)(close.0, h) };
            }
        }
    }
    // SAFETY: created by Box::into_raw in lwm2mc_client_new, freed once (per the contract);
    // no reference into it is left.
    drop(unsafe { Box::from_raw(client) });
}

/// Creates a client from `config` (copied; the config stays the caller's). If the config has a
/// storage, the last saved configuration is loaded now (a corrupt one is reported as a
/// STORAGE_ERROR event and the factory state is used). On success `*out` owns the client:
/// release it with `lwm2mc_client_free`.
///
/// # Safety
/// `config` must be NULL or a valid config; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_new(
    config: *const lwm2mc_config,
    out: *mut *mut lwm2mc_client,
) -> lwm2mc_result {
    guard(|| {
        // SAFETY: per this function's contract.
        let cfg = unsafe { as_ref(config) }?.clone();
        if out.is_null() {
            return Err(lwm2mc_result::NullParameter);
        }
        let mut client = match cfg.storage {
            None => Client::new(cfg.config, cfg.store),
            Some(StorageChoice::Hook(s)) => {
                Client::with_storage(cfg.config, cfg.store, Box::new(CStorage(s)))
            }
            Some(StorageChoice::Directory(dir)) => {
                let fs = crate::storage_file::FileStorage::new(dir)
                    .map_err(|_| lwm2mc_result::StorageError)?;
                Client::with_storage(cfg.config, cfg.store, Box::new(fs))
            }
        };
        for (oid, table) in cfg.objects {
            client
                .set_handler(oid, Box::new(CObject { oid, table }))
                .map_err(store_error)?;
        }
        if let Some(table) = cfg.firmware {
            client
                .set_firmware(Box::new(super::firmware::CFirmware::new(table)))
                .map_err(store_error)?;
        }
        let gate = Gate::new();
        let dying = gate.dying_flag();
        let mut state = ClientState {
            mode: Mode::Hooked(client),
            transport: cfg.transport,
            opened: BTreeMap::new(),
            refused: Default::default(),
            pending_open: Default::default(),
            log: Logger {
                hook: cfg.log,
                dying: dying.clone(),
            },
            dying,
            send_failures: 0,
            send_buf: Vec::new(),
            events: EventQueue::default(),
            held_message: CString::default(),
            held_data: Vec::new(),
        };
        // No one else has the client yet: its callbacks cannot reach it.
        state.flush()?;
        let c = lwm2mc_client {
            gate,
            state: UnsafeCell::new(state),
        };
        // SAFETY: out checked non-NULL.
        unsafe { write_out(out, Box::into_raw(Box::new(c))) }
    })
}

/// Releases a client without de-registering (call `lwm2mc_client_stop` first for that). Peers
/// still open through the transport hook are closed (their `close` callbacks run inside this
/// function, or at the deferred free below). NULL is a no-op.
///
/// Called from inside one of this client's callbacks, the free is deferred: the callback goes
/// on, the library calls no further callback of this client except the `close` of its open
/// peers, and the client is freed when the call that ran the callback returns (that call
/// returns its result as usual). Called from another thread while a call runs, it waits for
/// that call to return, then frees; calls that arrive meanwhile get LWM2MC_RESULT_BUSY. Either
/// way the pointer is invalid once this function has returned to code that is not inside the
/// running call, and the callbacks' userdata must stay valid until the free is done.
///
/// # Safety
/// `client` must be NULL or a pointer from `lwm2mc_client_new`, freed once, and not used
/// again after the free (the deferred case: not after the running call returned).
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_free(client: *mut lwm2mc_client) {
    let _ = guard(|| {
        if client.is_null() {
            return Ok(());
        }
        // SAFETY: a live client per the contract; the gate is only used by shared reference.
        let gate: &Gate = unsafe { &(*client).gate };
        match gate.claim_for_free() {
            // SAFETY: the gate is now held by this thread for good.
            FreeClaim::Now => unsafe { destroy(client) },
            FreeClaim::Deferred => {}
        }
        Ok(())
    });
}

/// Starts the bootstrap sequence (smartcard, factory, Register, or client-initiated bootstrap).
/// `now_ms` is the host's monotonic clock in milliseconds (ignored in UDP mode).
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_start(
    client: *mut lwm2mc_client,
    now_ms: u64,
) -> lwm2mc_result {
    with_client(client, |c| {
        match &mut c.mode {
            Mode::Udp(u) => u.start().map_err(|_| lwm2mc_result::TransportError)?,
            _ => c.core()?.start(now_ms),
        }
        c.flush()
    })
}

/// De-registers from every server; keep calling `lwm2mc_client_step` (or `poll_udp`) until
/// `lwm2mc_client_is_stopped` says true.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_stop(
    client: *mut lwm2mc_client,
    now_ms: u64,
) -> lwm2mc_result {
    with_client(client, |c| {
        match &mut c.mode {
            Mode::Udp(u) => u.stop().map_err(|_| lwm2mc_result::TransportError)?,
            _ => c.core()?.stop(now_ms),
        }
        c.flush()
    })
}

/// Writes whether every De-register after `lwm2mc_client_stop` is done.
///
/// # Safety
/// `client` must be NULL or a live client; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_is_stopped(
    client: *const lwm2mc_client,
    out: *mut bool,
) -> lwm2mc_result {
    with_client(client.cast_mut(), |c| {
        let stopped = c.core_ref()?.is_stopped();
        // SAFETY: per this function's contract.
        unsafe { write_out(out, stopped) }
    })
}

/// Feeds one datagram received from the transport peer `peer` (a handle the transport's
/// `open` returned). LWM2MC_RESULT_NOT_FOUND if no open peer has that handle (the datagram is
/// dropped). LWM2MC_RESULT_BUSY (another thread's call runs) and REENTRANT_CALL did not take
/// the datagram: hand it in again. The buffer is only read during the call.
///
/// # Safety
/// `client` must be NULL or a live client; `buf` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_handle_datagram(
    client: *mut lwm2mc_client,
    now_ms: u64,
    peer: usize,
    buf: *const u8,
    len: usize,
) -> lwm2mc_result {
    with_client(client, |c| {
        // SAFETY: per this function's contract.
        let data = unsafe { as_bytes(buf, len) }?;
        let id = c
            .opened
            .iter()
            .find(|(_, h)| **h == peer)
            .map(|(id, _)| *id)
            .ok_or(lwm2mc_result::NotFound)?;
        match &mut c.mode {
            Mode::Hooked(core) => core.handle_datagram(now_ms, id, data),
            _ => return Err(lwm2mc_result::InvalidState),
        }
        c.flush()
    })
}

/// Runs the timers due at `now_ms`, sends what is queued, and writes to `next_ms` when to call
/// again (UINT64_MAX: nothing scheduled, wait for a datagram).
///
/// # Safety
/// `client` must be NULL or a live client; `next_ms` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_step(
    client: *mut lwm2mc_client,
    now_ms: u64,
    next_ms: *mut u64,
) -> lwm2mc_result {
    with_client(client, |c| {
        if next_ms.is_null() {
            return Err(lwm2mc_result::NullParameter);
        }
        let Mode::Hooked(core) = &mut c.mode else {
            return Err(lwm2mc_result::InvalidState);
        };
        core.handle_timeout(now_ms);
        let next = core.poll_timeout().unwrap_or(u64::MAX);
        c.flush()?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(next_ms, next) }
    })
}

/// Switches the client to the built-in UDP transport bound to `bind_addr` (`"0.0.0.0:0"`,
/// `"127.0.0.1:5684"`, `"[::]:0"`: an IP literal and a port). Then drive it with
/// `lwm2mc_client_poll_udp`. NoSec only. A failed bind changes nothing: INVALID_ARGUMENT for
/// an address that does not parse, TRANSPORT_ERROR when the socket cannot be bound (in use,
/// not local), INVALID_STATE once bound; the client can be bound again after an error.
///
/// # Safety
/// `client` must be NULL or a live client; `bind_addr` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_bind_udp(
    client: *mut lwm2mc_client,
    bind_addr: *const c_char,
) -> lwm2mc_result {
    with_client(client, |c| {
        // SAFETY: per this function's contract.
        let addr: std::net::SocketAddr = unsafe { as_str(bind_addr) }?
            .parse()
            .map_err(|_| lwm2mc_result::InvalidArgument)?;
        let Mode::Hooked(_) = c.mode else {
            return Err(lwm2mc_result::InvalidState);
        };
        // The socket first: a bind that fails leaves the client as it was.
        let socket = std::net::UdpSocket::bind(addr).map_err(|_| lwm2mc_result::TransportError)?;
        let Mode::Hooked(core) = std::mem::replace(&mut c.mode, Mode::Switching) else {
            return Err(lwm2mc_result::Internal);
        };
        let mut udp = UdpClient::with_socket(core, socket);
        if c.log.hook.is_some() {
            let logger = c.log.clone();
            udp.set_tap(Box::new(move |dir, peer, bytes| {
                let arrow = if dir == Direction::Sent { "->" } else { "<-" };
                logger.log(
                    LWM2MC_LOG_DEBUG,
                    &format!("{arrow} {peer} {}", crate::trace::describe(bytes)),
                );
            }));
            let logger = c.log.clone();
            udp.set_send_error_hook(Box::new(move |peer, bytes, e| {
                logger.log(
                    LWM2MC_LOG_WARN,
                    &format!("udp send to {peer} failed ({} B): {e}", bytes.len()),
                );
            }));
        }
        c.mode = Mode::Udp(udp);
        Ok(())
    })
}

/// The local UDP port in UDP mode.
///
/// # Safety
/// `client` must be NULL or a live client; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_udp_port(
    client: *const lwm2mc_client,
    out: *mut u16,
) -> lwm2mc_result {
    with_client(client.cast_mut(), |c| {
        if out.is_null() {
            return Err(lwm2mc_result::NullParameter);
        }
        let Mode::Udp(u) = &c.mode else {
            return Err(lwm2mc_result::InvalidState);
        };
        let port = u
            .local_addr()
            .map_err(|_| lwm2mc_result::TransportError)?
            .port();
        // SAFETY: per this function's contract.
        unsafe { write_out(out, port) }
    })
}

/// One turn of the built-in UDP loop: waits up to `max_wait_ms` for a datagram, runs due
/// timers and sends. Events are queued for `lwm2mc_client_next_event`. A datagram the socket
/// cannot send (one larger than UDP allows, no route) is lost like one lost on the way: logged
/// at WARN, counted (`lwm2mc_client_send_failures`), and not an error of this call;
/// TRANSPORT_ERROR means the socket itself failed. Refused with LWM2MC_RESULT_BUSY while
/// another thread's call runs, without reading the socket.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_poll_udp(
    client: *mut lwm2mc_client,
    max_wait_ms: u32,
) -> lwm2mc_result {
    with_client(client, |c| {
        let logger = c.log.clone();
        let Mode::Udp(u) = &mut c.mode else {
            return Err(lwm2mc_result::InvalidState);
        };
        let events = u
            .turn(Duration::from_millis(u64::from(max_wait_ms)))
            .map_err(|_| lwm2mc_result::TransportError)?;
        let max = u.client().config().limits.max_queued_events;
        for ev in events {
            logger.log_with(LWM2MC_LOG_INFO, || format!("{ev:?}"));
            c.events.push(ev, max);
        }
        Ok(())
    })
}

/// Writes how many datagrams could not be sent since the client was made: `send` callbacks of
/// the transport hook that did not return LWM2MC_RESULT_OK, and in UDP mode datagrams the
/// socket refused. Each is also logged at WARN; none stops the client.
///
/// # Safety
/// `client` must be NULL or a live client; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_send_failures(
    client: *const lwm2mc_client,
    out: *mut u64,
) -> lwm2mc_result {
    with_client(client.cast_mut(), |c| {
        let n = match &c.mode {
            Mode::Udp(u) => c.send_failures.saturating_add(u.send_errors()),
            _ => c.send_failures,
        };
        // SAFETY: per this function's contract.
        unsafe { write_out(out, n) }
    })
}

/// Saves the current configuration to storage now (after changing Security/Server values).
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_save(client: *mut lwm2mc_client) -> lwm2mc_result {
    with_client(client, |c| {
        c.core()?.persist().map_err(|_| lwm2mc_result::StorageError)
    })
}

/// Writes whether the client is registered with the server `short_server_id`.
///
/// # Safety
/// `client` must be NULL or a live client; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_is_registered(
    client: *const lwm2mc_client,
    short_server_id: u16,
    out: *mut bool,
) -> lwm2mc_result {
    with_client(client.cast_mut(), |c| {
        let r = c
            .core_ref()?
            .registered_servers()
            .contains(&short_server_id);
        // SAFETY: per this function's contract.
        unsafe { write_out(out, r) }
    })
}

/// Test hook: panics inside the guard; must return LWM2MC_RESULT_PANIC (a library built with
/// `panic = "abort"` aborts the process instead).
#[cfg(feature = "ffi-test-hooks")]
#[no_mangle]
pub extern "C" fn lwm2mc_test_panic() -> lwm2mc_result {
    guard(|| panic!("test panic requested through lwm2mc_test_panic"))
}
