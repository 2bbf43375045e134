//! Peer ids for transport descriptions: allocated on first use, released when nothing refers
//! to them. The adapter learns both from `Client::poll_peer_change`.

use super::*;
use crate::accounts::Transport;
use crate::vec_map::VecMap;

/// A change in the peers the client talks to, for the adapter that maps them to transports
/// (sockets, DTLS sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerChange {
    /// A new peer: open a transport to it (`Client::peer_info` says where and how) before
    /// sending its first datagram.
    Opened(PeerId),
    /// The client no longer uses this peer and has nothing left to send it: the transport may
    /// be released. Ids are not reused: a later peer, even for the same URI, gets a new one.
    Closed(PeerId),
}

impl Client {
    /// The next change in the peers, oldest first. Call it until `None` before
    /// `poll_transmit` (so every datagram's peer is open) and again after (a peer is reported
    /// closed only once its last datagram was taken).
    pub fn poll_peer_change(&mut self) -> Option<PeerChange> {
        // The usual case, asked on every turn: every peer announced and none closed.
        if self.peers.keys().eq(self.announced.keys()) {
            return None;
        }
        if let Some(id) = self
            .peers
            .keys()
            .find(|id| !self.announced.contains_key(id))
        {
            let id = *id;
            self.announced.insert(id, ());
            return Some(PeerChange::Opened(id));
        }
        let closed = self
            .announced
            .keys()
            .find(|id| !self.peers.contains_key(id) && !self.endpoint.has_queued(**id))
            .copied()?;
        self.announced.remove(&closed);
        Some(PeerChange::Closed(closed))
    }

    /// The peer for a transport description, allocating an id the first time. A changed
    /// description (new URI or keys) is a new peer: Core 1.1 §5.2.5 wants a new session then.
    pub(super) fn peer_for(&mut self, info: PeerInfo) -> PeerId {
        peer_for(&mut self.peers, &mut self.next_peer, info)
    }

    /// Gives the Bootstrap-Server account a peer id even before we send to it, so that an
    /// adapter can map its datagrams (Server-Initiated Bootstrap, Core 1.0 §5.2.3.4).
    pub(super) fn ensure_bootstrap_peer(&mut self) {
        self.bootstrap_peer();
    }

    /// The Bootstrap-Server account's peer, allocated the first time; `None` without an
    /// account or with an unusable URI or mode.
    pub(super) fn bootstrap_peer(&mut self) -> Option<PeerId> {
        let account = accounts::bootstrap_security(&self.store)?;
        peer_of(&mut self.peers, &mut self.next_peer, account.transport())
    }

    /// Forgets peers nothing refers to any more and tells the transport.
    pub(super) fn collect_peers(&mut self) {
        // The Bootstrap-Server account keeps its peer while the device retains the account.
        let bootstrap = accounts::bootstrap_security(&self.store)
            .and_then(|a| find_peer(&self.peers, a.transport()));
        let mut used: Vec<PeerId> = self
            .regs
            .peers()
            .chain(self.bs.peer())
            .chain(self.pull_peer_in_use())
            .chain(bootstrap)
            .collect();
        used.sort_unstable();
        let unused: Vec<PeerId> = self
            .peers
            .keys()
            .filter(|p| used.binary_search(p).is_err())
            .copied()
            .collect();
        for peer in unused {
            if self.endpoint.outstanding(peer) > 0 {
                continue;
            }
            self.peers.remove(&peer);
            self.endpoint.forget_peer(peer);
            self.blocks.forget_peer(peer);
            self.requests.forget_peer(peer);
        }
    }
}

/// The peer id for a transport description in `peers`, allocating one the first time.
pub(super) fn peer_for(
    peers: &mut VecMap<PeerId, PeerInfo>,
    next: &mut u64,
    info: PeerInfo,
) -> PeerId {
    if let Some((id, _)) = peers.iter().find(|(_, i)| **i == info) {
        return *id;
    }
    insert_peer(peers, next, info)
}

/// The peer an account's transport already has in `peers`, found without copying its keys.
fn find_peer(peers: &VecMap<PeerId, PeerInfo>, transport: Transport<'_>) -> Option<PeerId> {
    peers
        .iter()
        .find(|(_, info)| transport.is(info))
        .map(|(id, _)| *id)
}

/// The peer for an account's transport, allocating one (and copying the URI and keys into its
/// `PeerInfo`) only the first time; `None` if its URI or mode is unusable.
fn peer_of(
    peers: &mut VecMap<PeerId, PeerInfo>,
    next: &mut u64,
    transport: Transport<'_>,
) -> Option<PeerId> {
    match find_peer(peers, transport) {
        Some(id) => Some(id),
        None => Some(insert_peer(peers, next, transport.peer_info()?)),
    }
}

fn insert_peer(peers: &mut VecMap<PeerId, PeerInfo>, next: &mut u64, info: PeerInfo) -> PeerId {
    // `Transport::is` compares URIs as written; that is exact only while every `uri` is the
    // parse of its `uri_text`.
    debug_assert_eq!(
        crate::uri::ServerUri::parse(&info.uri_text).as_ref(),
        Ok(&info.uri)
    );
    let id = PeerId(*next);
    *next += 1;
    peers.insert(id, info);
    id
}
