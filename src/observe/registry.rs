//! The observations the client serves (RFC 7641 §3.1, §4.1; Core 1.1 §5.5): one relation per
//! (server, token), with the path, the format of the first answer, its schedule and what was
//! last evaluated. Bounded by `Limits::max_observations`.

use alloc::collections::BTreeMap;
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

/// Every observation, in the order they were established, indexed by (peer, token) and by the
/// exchange of its last notification, so that finding one costs O(log n) whatever their number.
/// A token as a map key, held inline: at most 8 bytes (RFC 7252 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TokenKey {
    len: u8,
    bytes: [u8; 8],
}

impl TokenKey {
    /// `None` for a token over 8 bytes, which no well-formed message carries.
    fn of(token: &[u8]) -> Option<TokenKey> {
        let mut bytes = [0; 8];
        bytes.get_mut(..token.len())?.copy_from_slice(token);
        Some(TokenKey {
            len: token.len() as u8,
            bytes,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Observations {
    /// By establishment number: iteration is oldest first.
    list: BTreeMap<u64, Observation>,
    by_token: BTreeMap<(PeerId, TokenKey), u64>,
    by_exchange: BTreeMap<ExchangeId, u64>,
    /// How many observations look at each object.
    objects: BTreeMap<u16, usize>,
    next_id: u64,
    /// The next Observe option value, shared by all observations so that a re-established
    /// relation never goes back in sequence (RFC 7641 §4.4: 24 bits, increasing by one).
    next_seq: u32,
}

impl Observations {
    pub(crate) fn new() -> Observations {
        Observations {
            list: BTreeMap::new(),
            by_token: BTreeMap::new(),
            by_exchange: BTreeMap::new(),
            objects: BTreeMap::new(),
            next_id: 0,
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
        let id = self.next_id;
        self.next_id += 1;
        // The endpoint delivers no request with a token over 8 bytes (RFC 7252 §3: a format
        // error), so every observation has a key.
        let Some(key) = TokenKey::of(&obs.token) else {
            return old;
        };
        self.by_token.insert((obs.peer, key), id);
        for o in object_ids(&obs) {
            *self.objects.entry(o).or_default() += 1;
        }
        self.list.insert(id, obs);
        old
    }

    /// Whether a new observation (not replacing one) fits under `max`.
    pub(crate) fn has_room(&self, peer: PeerId, token: &[u8], max: usize) -> bool {
        self.list.len() < max || self.id_of(peer, token).is_some()
    }

    /// The observation `peer` made with `token`, by its key (no copy of the token: issue 15).
    fn id_of(&self, peer: PeerId, token: &[u8]) -> Option<u64> {
        self.by_token.get(&(peer, TokenKey::of(token)?)).copied()
    }

    pub(crate) fn get(&self, peer: PeerId, token: &[u8]) -> Option<&Observation> {
        self.list.get(&self.id_of(peer, token)?)
    }

    pub(crate) fn get_mut(&mut self, peer: PeerId, token: &[u8]) -> Option<&mut Observation> {
        let id = self.id_of(peer, token)?;
        self.list.get_mut(&id)
    }

    /// Records `exchange` as the last notification of the observation (peer, token).
    pub(crate) fn set_exchange(&mut self, peer: PeerId, token: &[u8], exchange: ExchangeId) {
        let Some(id) = self.id_of(peer, token) else {
            return;
        };
        if let Some(obs) = self.list.get_mut(&id) {
            if let Some(old) = obs.last_exchange.replace(exchange) {
                self.by_exchange.remove(&old);
            }
            self.by_exchange.insert(exchange, id);
        }
    }

    pub(crate) fn remove_token(&mut self, peer: PeerId, token: &[u8]) -> Option<Observation> {
        let id = self.id_of(peer, token)?;
        self.remove_id(id)
    }

    /// The observation whose last notification was exchange `id`.
    pub(crate) fn remove_exchange(&mut self, id: ExchangeId) -> Option<Observation> {
        let obs = *self.by_exchange.get(&id)?;
        self.remove_id(obs)
    }

    /// Ends every observation of server `ssid` (de-registered, registered anew, or gone).
    pub(crate) fn remove_server(&mut self, ssid: u16) -> Vec<Observation> {
        let ids: Vec<u64> = self
            .list
            .iter()
            .filter(|(_, o)| o.ssid == ssid)
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.remove_id(id))
            .collect()
    }

    fn remove_id(&mut self, id: u64) -> Option<Observation> {
        let obs = self.list.remove(&id)?;
        if let Some(key) = TokenKey::of(&obs.token) {
            self.by_token.remove(&(obs.peer, key));
        }
        if let Some(x) = obs.last_exchange {
            self.by_exchange.remove(&x);
        }
        for o in object_ids(&obs) {
            if let Some(n) = self.objects.get_mut(&o) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.objects.remove(&o);
                }
            }
        }
        Some(obs)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Observation> {
        self.list.values()
    }

    /// The objects some observation looks at, in order.
    pub(crate) fn objects(&self) -> impl Iterator<Item = u16> + '_ {
        self.objects.keys().copied()
    }
}

/// The objects `obs` looks at, each once.
fn object_ids(obs: &Observation) -> Vec<u16> {
    let mut ids: Vec<u16> = obs.paths.iter().filter_map(|p| p.object_id()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
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
    fn token_keys_tell_every_token_of_up_to_8_bytes_apart() {
        // Zero bytes of different lengths are different tokens (RFC 7252 §5.3.1).
        let tokens: Vec<Vec<u8>> = (0..=8)
            .flat_map(|len| [alloc::vec![0u8; len], alloc::vec![0xFF; len]])
            .chain([alloc::vec![1, 2, 3], alloc::vec![3, 2, 1]])
            .collect();
        for a in &tokens {
            for b in &tokens {
                assert_eq!(TokenKey::of(a) == TokenKey::of(b), a == b, "{a:?} {b:?}");
            }
        }
        assert!(TokenKey::of(&[0; 9]).is_none());
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
