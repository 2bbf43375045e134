//! After every call that may change the client: open the peers it added through the
//! transport hook, send its datagrams, close the peers it dropped, collect its events.
//! Callbacks stop as soon as one of them frees the client.

use std::ffi::CString;
use std::sync::atomic::Ordering;

use super::adapters::{describe_code, known};
use super::client::{ClientState, Mode};
use super::guard::FfiResult;
use super::result::lwm2mc_result;
use super::types::*;
use crate::client::{Client, PeerChange};
use crate::event::Event;
use crate::peer::{PeerId, PeerInfo};

impl ClientState {
    /// See the module notes. A peer whose `open` failed stays pending and is tried again at
    /// the next call.
    pub(super) fn flush(&mut self) -> FfiResult {
        let dying = self.dying.clone();
        let dying = move || dying.load(Ordering::SeqCst);
        let Mode::Hooked(client) = &mut self.mode else {
            return Ok(());
        };
        let mut peers = Peers::of(
            self.transport,
            &mut self.opened,
            &mut self.refused,
            &mut self.pending_open,
            &self.log,
        );
        peers.apply_changes(client, &dying);
        peers.open_pending(client, &dying);
        while !dying() {
            let Some(peer) = client.poll_transmit_into(&mut self.send_buf) else {
                break;
            };
            let data = &self.send_buf;
            self.log.log_with(LWM2MC_LOG_DEBUG, || {
                format!("-> {}", crate::trace::describe(data))
            });
            let (Some(t), Some(h)) = (self.transport, self.opened.get(&peer)) else {
                continue;
            };
            // The log hook may have freed the client: then nothing more is sent.
            if dying() {
                break;
            }
            let Some(send) = t.send else { continue };
            // SAFETY: data is readable for its length during the call.
            let r = unsafe { send(t.userdata, *h, data.as_ptr(), data.len()) };
            if known(r) != Some(lwm2mc_result::Ok) {
                self.send_failures = self.send_failures.saturating_add(1);
                let reason = format!(
                    "transport send failed ({} B): {}",
                    data.len(),
                    describe_code(r)
                );
                self.log.log(LWM2MC_LOG_WARN, &reason);
                let max = client.config().limits.max_queued_events;
                let failed = Event::SendFailed { peer, reason };
                self.events.push(failed, max);
            }
        }
        // Peers dropped now that their last datagrams went out.
        Peers::of(
            self.transport,
            &mut self.opened,
            &mut self.refused,
            &mut self.pending_open,
            &self.log,
        )
        .apply_changes(client, &dying);
        while let Some(ev) = client.poll_event() {
            self.log.log_with(LWM2MC_LOG_INFO, || format!("{ev:?}"));
            let max = client.config().limits.max_queued_events;
            self.events.push(ev, max);
        }
        Ok(())
    }
}

/// The host's peer handles, as `flush` keeps them.
struct Peers<'a> {
    transport: Option<lwm2mc_transport>,
    opened: &'a mut std::collections::BTreeMap<PeerId, usize>,
    refused: &'a mut std::collections::BTreeSet<PeerId>,
    pending: &'a mut std::collections::BTreeSet<PeerId>,
    log: &'a super::client::Logger,
}

impl<'a> Peers<'a> {
    fn of(
        transport: Option<lwm2mc_transport>,
        opened: &'a mut std::collections::BTreeMap<PeerId, usize>,
        refused: &'a mut std::collections::BTreeSet<PeerId>,
        pending: &'a mut std::collections::BTreeSet<PeerId>,
        log: &'a super::client::Logger,
    ) -> Peers<'a> {
        Peers {
            transport,
            opened,
            refused,
            pending,
            log,
        }
    }

    /// Takes the client's peer changes: new peers wait to be opened, dropped ones are closed.
    fn apply_changes(&mut self, client: &mut Client, dying: &dyn Fn() -> bool) {
        while let Some(change) = client.poll_peer_change() {
            match change {
                PeerChange::Opened(id) => {
                    self.pending.insert(id);
                }
                PeerChange::Closed(id) => {
                    self.pending.remove(&id);
                    self.refused.remove(&id);
                    // Once dying, the handle stays in `opened` and is closed by the free.
                    if dying() {
                        continue;
                    }
                    if let (Some(t), Some(h)) = (self.transport, self.opened.remove(&id)) {
                        if let Some(close) = t.close {
                            // SAFETY: the host's own handle, given back once.
                            unsafe { close(t.userdata, h) };
                        }
                    }
                }
            }
        }
    }

    /// Asks the transport to open every pending peer.
    fn open_pending(&mut self, client: &Client, dying: &dyn Fn() -> bool) {
        let Some(t) = self.transport else { return };
        let pending: Vec<PeerId> = self.pending.iter().copied().collect();
        for id in pending {
            if dying() {
                return;
            }
            let Some(info) = client.peer_info(id) else {
                self.pending.remove(&id);
                continue;
            };
            if self.open(t, id, info) {
                self.pending.remove(&id);
            }
        }
    }

    /// One `open`; true when the peer is settled (opened, or refused for good).
    fn open(&mut self, t: lwm2mc_transport, id: PeerId, info: &PeerInfo) -> bool {
        let (Ok(uri), Ok(host)) = (
            CString::new(info.uri_text.clone()),
            CString::new(info.uri.host.clone()),
        ) else {
            return true; // a NUL in the URI: no transport can reach it
        };
        let c_info = lwm2mc_server_info {
            uri: uri.as_ptr(),
            host: host.as_ptr(),
            port: info.uri.port,
            secure: info.uri.scheme == crate::uri::Scheme::Coaps,
            bootstrap: info.bootstrap,
            security_mode: info.security_mode.as_i64() as u32,
            identity: info.public_key_or_identity.as_ptr(),
            identity_len: info.public_key_or_identity.len(),
            server_public_key: info.server_public_key.as_ptr(),
            server_public_key_len: info.server_public_key.len(),
            secret_key: info.secret_key.as_ptr(),
            secret_key_len: info.secret_key.len(),
        };
        let mut handle = 0usize;
        let r = match t.open {
            // SAFETY: c_info and the strings it points to live across the call.
            Some(open) => unsafe { open(t.userdata, &c_info, &mut handle) },
            None => lwm2mc_result::InvalidState as u32,
        };
        if known(r) != Some(lwm2mc_result::Ok) {
            let why = describe_code(r);
            let line = format!("transport open({}) failed: {why}", info.uri_text);
            self.log.log(LWM2MC_LOG_WARN, &line);
            return false;
        }
        if self.opened.values().any(|h| *h == handle) {
            // A handle names one peer: given out twice, datagrams for one server would go to
            // the other and incoming ones be attributed to the wrong one (a DM GET opened a
            // bootstrap session). This peer stays closed.
            let line = format!(
                "transport open({}) returned handle {handle}, which another peer already \
                 uses; this peer stays closed",
                info.uri_text
            );
            self.log.log(LWM2MC_LOG_WARN, &line);
            self.refused.insert(id);
            return true;
        }
        self.opened.insert(id, handle);
        true
    }
}
