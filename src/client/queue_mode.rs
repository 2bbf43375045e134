//! Queue mode (LwM2M 1.1 Register `Q`; 1.0 binding `UQ`; Transport 1.1 §Queue Mode): the
//! device tells its servers it may be unreachable; after its last exchange it stays awake for
//! MAX_TRANSMIT_WAIT ("it is RECOMMENDED that the LwM2M Client waits at least
//! MAX_TRANSMIT_WAIT seconds ... from the last CoAP message it sent ... before intentionally
//! going offline", FACTS §3.4), then reports that it may sleep (`Event::Sleeping`; the radio
//! may be off until `poll_timeout`). A notification or a Send that comes due while asleep
//! wakes it by an Update first ("Update is the 'I'm awake' signal"), after which the servers
//! deliver what they queued and the held messages follow.

use super::*;

/// The awake window and what waits for the next Update.
#[derive(Debug, Default)]
pub(super) struct QueueMode {
    /// While awake: when the window closes (the last datagram plus MAX_TRANSMIT_WAIT).
    awake_until: u64,
    sleeping: bool,
    /// Sends held while asleep: (server, the `POST /dp`), sent once its Update succeeded.
    held_sends: Vec<(u16, MessageBuf)>,
}

/// Most Sends held while asleep; a newer one beyond drops the oldest (bounded like the stored
/// notifications).
const MAX_HELD_SENDS: usize = 16;

impl Client {
    /// Whether the client reports itself asleep (queue mode, `Event::Sleeping`).
    pub fn is_sleeping(&self) -> bool {
        self.queue.as_ref().is_some_and(|q| q.sleeping)
    }

    /// A datagram came in or went out: awake for MAX_TRANSMIT_WAIT from now.
    pub(super) fn queue_traffic(&mut self) {
        if self.queue.is_none() {
            return;
        }
        let until = self.now.saturating_add(self.params.max_transmit_wait_ms());
        let Some(q) = self.queue.as_mut() else {
            return;
        };
        q.awake_until = q.awake_until.max(until);
        if q.sleeping {
            q.sleeping = false;
            self.emit(Event::Awake);
        }
    }

    /// When the awake window closes (the client then reports it may sleep).
    pub(super) fn queue_deadline(&self) -> Option<u64> {
        let q = self.queue.as_ref()?;
        (!q.sleeping && self.regs.any_registered()).then_some(q.awake_until)
    }

    /// Reports sleep once the window is over and nothing is in flight or waiting to go out.
    pub(super) fn drive_queue_mode(&mut self, now: u64) {
        let Some(deadline) = self.queue_deadline() else {
            return;
        };
        let quiet = self
            .peers
            .keys()
            .all(|p| self.endpoint.outstanding(*p) == 0 && !self.endpoint.has_queued(*p));
        if now < deadline || !quiet || self.regs.any_update_wanted() {
            return;
        }
        if let Some(q) = self.queue.as_mut() {
            q.sleeping = true;
        }
        self.emit(Event::Sleeping);
    }

    /// Whether a notification or Send for server `ssid` must wait for an Update that wakes the
    /// client; asks for that Update.
    pub(super) fn held_for_wake_up(&mut self, ssid: u16) -> bool {
        if !self.is_sleeping() {
            return false;
        }
        self.regs.want_update(ssid);
        true
    }

    /// Holds a Send until the Update that wakes the client succeeded.
    pub(super) fn hold_send(&mut self, ssid: u16, packet: MessageBuf) {
        if let Some(q) = self.queue.as_mut() {
            if q.held_sends.len() >= MAX_HELD_SENDS {
                q.held_sends.remove(0);
            }
            q.held_sends.push((ssid, packet));
        }
    }

    /// Server `ssid`'s Update succeeded: the Sends held for it go out.
    pub(super) fn release_sends(&mut self, now: u64, ssid: u16) {
        let Some(q) = self.queue.as_mut() else {
            return;
        };
        let (mine, rest): (Vec<_>, Vec<_>) = core::mem::take(&mut q.held_sends)
            .into_iter()
            .partition(|(s, _)| *s == ssid);
        q.held_sends = rest;
        for (ssid, packet) in mine {
            if let Some(peer) = self.regs.registered_peer(ssid) {
                self.request(now, peer, packet, Purpose::Send(ssid));
            }
        }
    }
}
