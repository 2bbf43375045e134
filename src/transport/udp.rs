//! A ready UDP loop for std users (DESIGN §1 "transport::udp"): one socket, peers resolved
//! from their URIs, the clock read from `Instant`.
//!
//! `coap://` peers are NoSec: recognised by exact address and port (DESIGN §3). `coaps://`
//! peers go through the built-in DTLS 1.2 (feature `dtls`, [`crate::transport::dtls`]) with
//! the keys of their Security instance: the handshake runs before their first datagram, what
//! the core sends meanwhile is queued, and only authenticated application data reaches the
//! core; such a peer is recognised by its session, so a new address that speaks with the
//! session's keys is the same peer. Without the feature, nothing is sent to a `coaps://` peer
//! (never CoAP in clear); a host DTLS stack plugs in through the C transport hook instead.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use crate::client::{Client, PeerChange};
use crate::event::Event;
use crate::peer::PeerId;

/// Direction of a datagram seen by a tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A datagram the loop handed to the socket.
    Sent,
    /// A datagram the socket delivered to the loop.
    Received,
}

/// Observer of every datagram (for transcripts and debugging).
pub type Tap = Box<dyn FnMut(Direction, SocketAddr, &[u8]) + Send>;

/// Told about every datagram the socket failed to send: the peer, the datagram, the error.
pub type SendErrorHook = Box<dyn FnMut(SocketAddr, &[u8], &io::Error) + Send>;

/// A random seed from the OS (std's hasher keys come from the OS RNG), for `Config::seed`.
pub fn os_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// A client driven over one UDP socket.
pub struct UdpClient {
    client: Client,
    socket: UdpSocket,
    start: Instant,
    addrs: BTreeMap<PeerId, SocketAddr>,
    peers_by_addr: HashMap<SocketAddr, PeerId>,
    /// Peers the client added whose address did not resolve yet.
    unresolved: BTreeSet<PeerId>,
    tap: Option<Tap>,
    on_send_error: Option<SendErrorHook>,
    send_errors: u64,
    /// Events of the adapter itself (`SendFailed`, `SecureSession*`) waiting for the next
    /// `turn`; bounded by [`MAX_ADAPTER_EVENTS`].
    send_failed: Vec<Event>,
    /// The receive buffer: one byte more than the largest datagram taken (`max_datagram`), so
    /// that a longer one is seen as such instead of being cut short and read as whole.
    buf: Vec<u8>,
    /// The datagram being sent (`flush`): one buffer for all of them.
    send_buf: Vec<u8>,
    /// The read timeout last set on the socket (not set again while unchanged: a syscall).
    read_timeout: Option<Duration>,
    /// The DTLS sessions of the `coaps://` peers.
    #[cfg(feature = "dtls")]
    secure: super::dtls::SecureLinks,
}

/// The largest datagram the client takes: a request body up to `Limits::max_request_payload`
/// (or a block of `Config::block_size`) with room for the CoAP header, token and options and
/// for a DTLS record's own header and tag (RFC 6347 §4.1: 13 bytes of header, and for
/// AES-CCM-8 8 of explicit nonce and 8 of tag).
fn max_datagram(config: &crate::config::Config) -> usize {
    const HEADROOM: usize = 512;
    let body = config
        .limits
        .max_request_payload
        .max(config.block_size.unwrap_or(0))
        .max(1024);
    body.saturating_add(HEADROOM)
}

/// Adapter events kept between two turns; beyond, they are dropped (the counters say the rest).
const MAX_ADAPTER_EVENTS: usize = 64;

impl UdpClient {
    /// Binds `bind` (port 0 for an ephemeral port) and takes ownership of `client`. On error
    /// the client is dropped; to keep it, bind the socket first and use [`UdpClient::with_socket`].
    pub fn bind(client: Client, bind: SocketAddr) -> io::Result<UdpClient> {
        let socket = UdpSocket::bind(bind)?;
        Ok(UdpClient::with_socket(client, socket))
    }

    /// Drives `client` over `socket`, already bound (it is used in blocking mode with read
    /// timeouts).
    pub fn with_socket(client: Client, socket: UdpSocket) -> UdpClient {
        let buf = vec![0; max_datagram(client.config()) + 1];
        UdpClient {
            client,
            socket,
            start: Instant::now(),
            addrs: BTreeMap::new(),
            peers_by_addr: HashMap::new(),
            unresolved: BTreeSet::new(),
            tap: None,
            on_send_error: None,
            send_errors: 0,
            send_failed: Vec::new(),
            buf,
            send_buf: Vec::new(),
            read_timeout: None,
            #[cfg(feature = "dtls")]
            secure: Default::default(),
        }
    }

    /// The address the socket is bound to (to learn an ephemeral port).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Milliseconds since this adapter was created: the core's clock.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The client being driven.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The client being driven, to change it between turns.
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Gives the client back (its loop ends here).
    pub fn into_client(self) -> Client {
        self.client
    }

    /// Installs `tap`, called with every datagram sent or received (replacing any earlier tap).
    pub fn set_tap(&mut self, tap: Tap) {
        self.tap = Some(tap);
    }

    /// Calls `hook` for every datagram the socket fails to send (see [`UdpClient::flush`]).
    pub fn set_send_error_hook(&mut self, hook: SendErrorHook) {
        self.on_send_error = Some(hook);
    }

    /// How many datagrams the socket failed to send so far (ICMP "port unreachable" echoes
    /// not counted).
    pub fn send_errors(&self) -> u64 {
        self.send_errors
    }

    /// How long a DTLS handshake may run before it counts as failed (default
    /// [`super::dtls::HANDSHAKE_TIMEOUT`]); then it is reported and retried after a back-off.
    #[cfg(feature = "dtls")]
    pub fn set_handshake_timeout(&mut self, d: Duration) {
        self.secure.set_handshake_timeout(d);
    }

    /// Starts the client (bootstrap or registration, see `Client::start`) and sends what that
    /// queues.
    pub fn start(&mut self) -> io::Result<()> {
        let now = self.now();
        self.client.start(now);
        self.flush()
    }

    /// Asks the client to de-register from every server (see `Client::stop`) and sends what
    /// that queues; [`UdpClient::shutdown`] also waits for the answers.
    pub fn stop(&mut self) -> io::Result<()> {
        let now = self.now();
        self.client.stop(now);
        self.flush()
    }

    /// One turn of the loop: waits for a datagram at most until the client's next timer or
    /// `max_wait`, feeds it, runs due timers, sends what is queued and returns the new events.
    /// A datagram that cannot be sent (too large for UDP, no route) is one lost datagram, not
    /// an error of the loop (see [`UdpClient::flush`]); errors are those of the socket itself.
    pub fn turn(&mut self, max_wait: Duration) -> io::Result<Vec<Event>> {
        self.flush()?;
        let now = self.now();
        let next = self.client.poll_timeout();
        #[cfg(feature = "dtls")]
        let next = match (next, self.secure.poll_timeout(now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wait = match next {
            Some(t) => Duration::from_millis(t.saturating_sub(now)).min(max_wait),
            None => max_wait,
        };
        // A zero timeout would mean "block forever" to set_read_timeout.
        let wait = Some(wait.max(Duration::from_millis(1)));
        if self.read_timeout != wait {
            self.socket.set_read_timeout(wait)?;
            self.read_timeout = wait;
        }
        match self.socket.recv_from(&mut self.buf) {
            // Longer than any datagram the client takes (its Block1 and payload limits): not
            // read at all, rather than cut short and taken for the whole message.
            Ok((n, _)) if n >= self.buf.len() => {}
            Ok((n, from)) => {
                let data = self.buf.get(..n).unwrap_or(&[]).to_vec();
                self.receive(from, data);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        // EINTR: a signal (SIGTERM asking us to de-register) interrupted the
                        // wait; with a receive timeout set, Linux does not restart recvfrom
                        // even under SA_RESTART.
                        | io::ErrorKind::Interrupted
                ) => {}
            // ICMP port unreachable shows up as ConnectionRefused on Linux; the CoAP layer's
            // retransmissions handle it.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
        }
        let now = self.now();
        #[cfg(feature = "dtls")]
        {
            let mut out = super::dtls::Output::default();
            self.secure.handle_timeout(now, &mut out);
            self.apply_secure_output(out);
        }
        self.client.handle_timeout(now);
        self.flush()?;
        let mut events = std::mem::take(&mut self.send_failed);
        while let Some(ev) = self.client.poll_event() {
            events.push(ev);
        }
        Ok(events)
    }

    /// Turns the loop until `done` returns true for an event, or `timeout` passes. Returns
    /// every event seen, or `TimedOut`.
    pub fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Event) -> bool,
    ) -> io::Result<Vec<Event>> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("events so far: {seen:?}"),
                ));
            }
            let events = self.turn(left.min(Duration::from_millis(200)))?;
            let finished = events.iter().any(&mut done);
            seen.extend(events);
            if finished {
                return Ok(seen);
            }
        }
    }

    /// Stops the client and turns the loop until every De-register was answered or `timeout`.
    pub fn shutdown(&mut self, timeout: Duration) -> io::Result<Vec<Event>> {
        self.stop()?;
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while !self.client.is_stopped() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "De-register not answered",
                ));
            }
            seen.extend(self.turn(left.min(Duration::from_millis(200)))?);
        }
        Ok(seen)
    }

    /// One datagram from the socket. Datagrams from an address that is none of our peers are
    /// dropped: only the Bootstrap-Server and the servers may talk to the device (DESIGN §3),
    /// except a DTLS record that a `coaps://` peer's session authenticates (the peer moved).
    fn receive(&mut self, from: SocketAddr, data: Vec<u8>) {
        let now = self.now();
        let peer = self.peers_by_addr.get(&from).copied();
        #[cfg(feature = "dtls")]
        {
            let mut out = super::dtls::Output::default();
            let handled = match peer {
                Some(p) => self.secure.receive(now, p, &data, &mut out),
                None => {
                    if let Some(p) = self.secure.migrate(now, &data, &mut out) {
                        // The same session from a new address is the same peer (DESIGN §3).
                        if let Some(old) = self.addrs.insert(p, from) {
                            self.peers_by_addr.remove(&old);
                        }
                        self.peers_by_addr.insert(from, p);
                    }
                    // Unknown and not authenticated: dropped, like any stranger's datagram.
                    true
                }
            };
            if handled {
                self.apply_secure_output(out);
                return;
            }
        }
        #[cfg(not(feature = "dtls"))]
        let _ = now;
        if let Some(tap) = self.tap.as_mut() {
            tap(Direction::Received, from, &data);
        }
        if let Some(peer) = peer {
            if self.is_unsecurable(peer) {
                return;
            }
            let now = self.now();
            self.client.handle_datagram(now, peer, &data);
        }
    }

    /// Without the `dtls` feature, a `coaps://` peer gets nothing in clear and nothing of its
    /// reaches the core.
    fn is_unsecurable(&self, _peer: PeerId) -> bool {
        #[cfg(feature = "dtls")]
        return false;
        #[cfg(not(feature = "dtls"))]
        return self
            .client
            .peer_info(_peer)
            .is_some_and(|i| i.uri.scheme == crate::uri::Scheme::Coaps);
    }

    /// Sends the records, hands the decrypted CoAP messages to the core, keeps the events.
    #[cfg(feature = "dtls")]
    fn apply_secure_output(&mut self, out: super::dtls::Output) {
        for (peer, data) in out.wire {
            if let Some(addr) = self.addrs.get(&peer).copied() {
                self.send_datagram(peer, addr, &data, false);
            }
        }
        for (peer, data) in out.plaintext {
            if let (Some(tap), Some(addr)) = (self.tap.as_mut(), self.addrs.get(&peer)) {
                tap(Direction::Received, *addr, &data);
            }
            let now = self.now();
            self.client.handle_datagram(now, peer, &data);
        }
        for ev in out.events {
            self.push_event(ev);
        }
    }

    fn push_event(&mut self, ev: Event) {
        // Bounded like the core's queue: a burst of failures is reported once each up to the
        // limit, the counters say the rest.
        if self.send_failed.len() < MAX_ADAPTER_EVENTS {
            self.send_failed.push(ev);
        }
    }

    /// Puts one datagram on the wire (`tap`: show it to the tap, for plain CoAP).
    fn send_datagram(&mut self, peer: PeerId, addr: SocketAddr, data: &[u8], tap: bool) {
        if tap {
            if let Some(tap) = self.tap.as_mut() {
                tap(Direction::Sent, addr, data);
            }
        }
        match self.socket.send_to(data, addr) {
            Ok(_) => {}
            // An ICMP "port unreachable" echo from an earlier datagram: the peer is not
            // listening yet; retransmissions handle it.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => {
                self.send_errors = self.send_errors.saturating_add(1);
                if let Some(hook) = self.on_send_error.as_mut() {
                    hook(addr, data, &e);
                }
                self.push_event(Event::SendFailed {
                    peer,
                    reason: send_failure_reason(addr, data.len(), &e),
                });
            }
        }
    }

    /// Takes the client's peer changes: a new peer gets its address (resolved again at every
    /// flush until it resolves), a dropped one is forgotten.
    fn apply_peer_changes(&mut self) {
        while let Some(change) = self.client.poll_peer_change() {
            match change {
                PeerChange::Opened(id) => {
                    self.unresolved.insert(id);
                }
                PeerChange::Closed(id) => {
                    self.unresolved.remove(&id);
                    #[cfg(feature = "dtls")]
                    {
                        // close_notify goes out while the address is still known.
                        let mut out = super::dtls::Output::default();
                        self.secure.close(id, &mut out);
                        self.apply_secure_output(out);
                    }
                    if let Some(addr) = self.addrs.remove(&id) {
                        self.peers_by_addr.remove(&addr);
                    }
                }
            }
        }
        if self.unresolved.is_empty() {
            return; // the usual case: no getsockname(2) on every turn
        }
        let local_v4 = self
            .socket
            .local_addr()
            .map(|a| a.is_ipv4())
            .unwrap_or(true);
        let pending: Vec<PeerId> = self.unresolved.iter().copied().collect();
        for id in pending {
            let Some(info) = self.client.peer_info(id) else {
                self.unresolved.remove(&id);
                continue;
            };
            let found = (info.uri.host.as_str(), info.uri.port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut it| it.find(|a| a.is_ipv4() == local_v4));
            if let Some(addr) = found {
                self.unresolved.remove(&id);
                #[cfg(feature = "dtls")]
                if super::dtls::is_secure(info) {
                    self.secure.open(id, info);
                }
                self.addrs.insert(id, addr);
                self.peers_by_addr.insert(addr, id);
            }
        }
    }

    /// Sends everything the client has queued. A datagram the socket fails to send (EMSGSIZE
    /// for an answer larger than a UDP datagram, no route, no buffer space) is dropped like a
    /// datagram lost on the way: counted in [`UdpClient::send_errors`], reported to the
    /// send-error hook, and the rest is sent; the CoAP layer's retransmissions and timeouts
    /// deal with it. So this never fails today; the `Result` is kept for the callers.
    pub fn flush(&mut self) -> io::Result<()> {
        self.apply_peer_changes();
        // One buffer for every datagram sent (issue 15: a `Vec` each before).
        let mut datagram = core::mem::take(&mut self.send_buf);
        while let Some(peer) = self.client.poll_transmit_into(&mut datagram) {
            let Some(addr) = self.addrs.get(&peer).copied() else {
                // Unresolvable peer: the exchange times out and the client reports it.
                continue;
            };
            #[cfg(feature = "dtls")]
            if self.secure.contains(peer) {
                // The tap sees the CoAP message; the wire gets the DTLS record.
                if let Some(tap) = self.tap.as_mut() {
                    tap(Direction::Sent, addr, &datagram);
                }
                let mut out = super::dtls::Output::default();
                let now = self.now();
                self.secure
                    .send(now, peer, core::mem::take(&mut datagram), &mut out);
                self.apply_secure_output(out);
                continue;
            }
            if self.is_unsecurable(peer) {
                self.push_event(Event::SendFailed {
                    peer,
                    reason: format!(
                        "{addr} is a coaps:// peer and this build has no DTLS (feature `dtls`)"
                    ),
                });
                continue;
            }
            self.send_datagram(peer, addr, &datagram, true);
        }
        self.send_buf = datagram;
        // Peers dropped now that their last datagrams went out.
        self.apply_peer_changes();
        Ok(())
    }
}

/// The reason of an `Event::SendFailed`: where, how much, what the socket said.
fn send_failure_reason(addr: SocketAddr, len: usize, e: &io::Error) -> String {
    format!("udp send of {len} bytes to {addr} failed: {e}")
}
