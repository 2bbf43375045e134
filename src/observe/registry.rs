//! The observations the client serves (RFC 7641 §3.1, §4.1; Core 1.1 §5.5): one relation per
//! (server, token), with the path, the format of the first answer, its schedule and what was
//! last evaluated. Bounded by `Limits::max_observations`.

use alloc::vec::Vec;

use super::condition::Schedule;
use crate::coap::ExchangeId;
use crate::path::Path;
use crate::peer::PeerId;
use crate::request::Request;
use crate::value::Instances;

/// One observation.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    /// The observing server.
    pub ssid: u16,
    pub peer: PeerId,
    /// The token of its Observe request; every notification carries it.
    pub token: Vec<u8>,
    /// The observed path; the root `/` for Observe-Composite.
    pub path: Path,
    /// What it looks at: `[path]`, or the paths an Observe-Composite named.
    pub paths: Vec<Path>,
    /// The Observe request, replayed as a plain read for every notification, its Accept set
    /// to the Content-Format of the first answer (RFC 7641 §4.2: the same representation).
    pub request: Request,
    pub schedule: Schedule,
    /// The observed values at the last evaluation, per path (objects the library holds: how
    /// a change is seen whichever way it was made).
    pub snapshot: Vec<Option<Instances>>,
    /// When the last confirmable notification was sent (RFC 7641 §4.5: one at least every
    /// 24 hours).
    pub last_con_at: u64,
    /// The exchange of the last notification: its RST or CON timeout cancels (§3.6, §4.5).
    pub last_exchange: Option<ExchangeId>,
}

/// Every observation, in the order they were established.
#[derive(Debug, Clone)]
pub(crate) struct Observations {
    list: Vec<Observation>,
    /// The next Observe option value, shared by all observations so that a re-established
    /// relation never goes back in sequence (RFC 7641 §4.4: 24 bits, increasing by one).
    next_seq: u32,
}

impl Observations {
    pub(crate) fn new() -> Observations {
        Observations {
            list: Vec::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The next Observe sequence number (24 bits, wrapping).
    pub(crate) fn next_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = (seq + 1) & 0x00FF_FFFF;
        seq
    }

    /// Adds `obs`, replacing one with the same peer and token (RFC 7641 §4.1: a GET with
    /// Observe from the same endpoint and token replaces the registration). Returns the
    /// replaced one.
    pub(crate) fn insert(&mut self, obs: Observation) -> Option<Observation> {
        let old = self.remove_token(obs.peer, &obs.token);
        self.list.push(obs);
        old
    }

    /// Whether a new observation (not replacing one) fits under `max`.
    pub(crate) fn has_room(&self, peer: PeerId, token: &[u8], max: usize) -> bool {
        self.list.len() < max || self.list.iter().any(|o| o.peer == peer && o.token == token)
    }

    pub(crate) fn remove_token(&mut self, peer: PeerId, token: &[u8]) -> Option<Observation> {
        let at = self
            .list
            .iter()
            .position(|o| o.peer == peer && o.token == token)?;
        Some(self.list.remove(at))
    }

    /// The observation whose last notification was exchange `id`.
    pub(crate) fn remove_exchange(&mut self, id: ExchangeId) -> Option<Observation> {
        let at = self.list.iter().position(|o| o.last_exchange == Some(id))?;
        Some(self.list.remove(at))
    }

    /// Ends every observation of server `ssid` (de-registered, registered anew, or gone).
    pub(crate) fn remove_server(&mut self, ssid: u16) -> Vec<Observation> {
        let (gone, kept) = core::mem::take(&mut self.list)
            .into_iter()
            .partition(|o| o.ssid == ssid);
        self.list = kept;
        gone
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Observation> {
        self.list.iter()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Observation> {
        self.list.iter_mut()
    }

    /// The objects some observation looks at.
    pub(crate) fn objects(&self) -> Vec<u16> {
        let mut objects: Vec<u16> = self
            .list
            .iter()
            .flat_map(|o| o.paths.iter().filter_map(|p| p.object_id()))
            .collect();
        objects.sort_unstable();
        objects.dedup();
        objects
    }
}

impl Observation {
    /// Whether a change at `changed` concerns this observation.
    pub(crate) fn sees(&self, changed: &Path) -> bool {
        self.paths.iter().any(|p| overlaps(p, changed))
    }

    /// Whether it looks at object `o`.
    pub(crate) fn looks_at(&self, o: u16) -> bool {
        self.paths.iter().any(|p| p.object_id() == Some(o))
    }
}

/// Whether a change at `changed` concerns an observation of `observed`: one contains the other.
pub(crate) fn overlaps(observed: &Path, changed: &Path) -> bool {
    let a = segments(observed);
    let b = segments(changed);
    a.iter().zip(b.iter()).all(|(x, y)| x == y)
}

fn segments(p: &Path) -> Vec<u16> {
    [
        p.object_id(),
        p.instance_id(),
        p.resource_id(),
        p.resource_instance_id(),
    ]
    .into_iter()
    .map_while(|s| s)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_concerns_observations_above_and_below_it() {
        let r = Path::resource(3, 0, 9);
        assert!(overlaps(&Path::object(3), &r));
        assert!(overlaps(&Path::instance(3, 0), &r));
        assert!(overlaps(&r, &r));
        assert!(overlaps(&r, &Path::instance(3, 0)));
        assert!(!overlaps(&Path::resource(3, 0, 10), &r));
        assert!(!overlaps(&Path::instance(3, 1), &r));
        assert!(!overlaps(&Path::object(4), &r));
    }

    #[test]
    fn sequence_numbers_are_24_bits_and_wrap() {
        let mut o = Observations::new();
        o.next_seq = 0x00FF_FFFF;
        assert_eq!(o.next_seq(), 0x00FF_FFFF);
        assert_eq!(o.next_seq(), 0);
        assert_eq!(o.next_seq(), 1);
    }
}
