//! Peer ids for transport descriptions: allocated on first use, released (with
//! `Event::PeerClosed`) when nothing refers to them.

use super::*;

impl Client {
    /// The peer for a transport description, allocating an id the first time. A changed
    /// description (new URI or keys) is a new peer: Core 1.1 §5.2.5 wants a new session then.
    pub(super) fn peer_for(&mut self, info: PeerInfo) -> PeerId {
        peer_for(&mut self.peers, &mut self.next_peer, info)
    }

    /// Gives the Bootstrap-Server account a peer id even before we send to it, so that an
    /// adapter can map its datagrams (Server-Initiated Bootstrap, Core 1.0 §5.2.3.4).
    pub(super) fn ensure_bootstrap_peer(&mut self) {
        if let Some(info) = accounts::bootstrap_account(&self.store).and_then(|a| a.peer_info()) {
            self.peer_for(info);
        }
    }

    /// Forgets peers nothing refers to any more and tells the transport.
    pub(super) fn collect_peers(&mut self) {
        let mut used: BTreeSet<PeerId> = self.regs.peers().collect();
        used.extend(self.bs.peer());
        if let Some(info) = accounts::bootstrap_account(&self.store).and_then(|a| a.peer_info()) {
            if let Some((id, _)) = self.peers.iter().find(|(_, i)| **i == info) {
                used.insert(*id);
            }
        }
        let unused: Vec<PeerId> = self
            .peers
            .keys()
            .filter(|p| !used.contains(p))
            .copied()
            .collect();
        for peer in unused {
            if self.endpoint.outstanding(peer) > 0 {
                continue;
            }
            self.peers.remove(&peer);
            self.endpoint.forget_peer(peer);
            self.emit(Event::PeerClosed { peer });
        }
    }
}

/// The peer id for a transport description in `peers`, allocating one the first time.
pub(super) fn peer_for(
    peers: &mut BTreeMap<PeerId, PeerInfo>,
    next: &mut u64,
    info: PeerInfo,
) -> PeerId {
    if let Some((id, _)) = peers.iter().find(|(_, i)| **i == info) {
        return *id;
    }
    let id = PeerId(*next);
    *next += 1;
    peers.insert(id, info);
    id
}
