//! Information Reporting (Core 1.1 §5.5; RFC 7641): Observe and Cancel Observation from a
//! registered server, and the notifications that follow when an observed value changes or a
//! period elapses. When to notify is `observe::condition`'s business; this module finds the
//! changes, reads the values through the data model and sends.

use super::offline::Stored;
use super::*;
use crate::data_model::DataModel;
use crate::observe::attributes::{AttributeStore, Attributes};
use crate::observe::condition::{numeric, Due, Schedule};
use crate::observe::registry::Observation;

impl Client {
    /// A Read or Read-Composite from server `ssid` was answered with `reply`: with Observe=0
    /// and 2.05 it establishes an observation (Observe-Composite for a FETCH, Core 1.1
    /// §5.5.1.1) and the answer carries the Observe option; with Observe=1 it ends the
    /// observation with this token and is otherwise a plain read (RFC 7641 §3.6).
    pub(super) fn observe_answered(
        &mut self,
        now: u64,
        peer: PeerId,
        ssid: u16,
        packet: &Message<'_>,
        req: &Request,
        reply: &mut Reply,
    ) {
        let token = packet.token().to_vec();
        match req.observe {
            Some(1) => {
                if let Some(gone) = self.observations.remove_token(peer, &token) {
                    self.observation_ended(gone);
                }
            }
            Some(0) if reply.code == msg::CONTENT => {
                let Ok(path) = req.path() else { return };
                let paths = match req.method {
                    msg::FETCH => match dm::requested_paths(req) {
                        Ok((paths, _)) => paths,
                        Err(_) => return,
                    },
                    _ => alloc::vec![path],
                };
                let max = self.config.limits.max_observations;
                if !self.observations.has_room(peer, &token, max) {
                    return; // RFC 7641 §4.1: answered as a plain GET
                }
                let attrs = self.effective_attrs(ssid, &path);
                let value = self.numeric_value(&path, &attrs);
                let seq = self.observations.next_seq();
                reply.observe = Some(seq);
                let mut request = req.clone();
                request.observe = None;
                request.accept = reply.content_format;
                let obs = Observation {
                    ssid,
                    peer,
                    token,
                    path,
                    snapshot: self.snapshots(&paths),
                    paths,
                    request,
                    schedule: Schedule::started(now, value),
                    last_con_at: now,
                    last_exchange: None,
                };
                if self.observations.insert(obs).is_none() {
                    self.emit(Event::ObservationStarted { ssid, path });
                }
            }
            _ => {}
        }
    }

    /// The application changed what `path` holds (an object it holds itself, or the store
    /// changed behind the client's back): the observations that see it may notify.
    pub fn changed(&mut self, path: &Path) {
        let now = self.now;
        let hit: Vec<(PeerId, Vec<u8>)> = self
            .observations
            .iter()
            .filter(|o| o.sees(path))
            .map(|o| (o.peer, o.token.clone()))
            .collect();
        for (peer, token) in hit {
            self.mark_changed(now, peer, &token);
        }
    }

    /// Sets a value of a store-held object (see `Store::set`); observers are notified.
    pub fn set(&mut self, path: &Path, value: Value) -> Result<(), crate::store::StoreError> {
        self.store.set(path, value)
    }

    /// The observations being served: (Short Server ID, path), oldest first.
    pub fn observations(&self) -> Vec<(u16, Path)> {
        self.observations.iter().map(|o| (o.ssid, o.path)).collect()
    }

    fn mark_changed(&mut self, now: u64, peer: PeerId, token: &[u8]) {
        let Some((ssid, path, paths)) = self
            .find(peer, token)
            .map(|o| (o.ssid, o.path, o.paths.clone()))
        else {
            return;
        };
        let attrs = self.effective_attrs(ssid, &path);
        let value = self.numeric_value(&path, &attrs);
        let snapshot = self.snapshots(&paths);
        if let Some(obs) = self.find_mut(peer, token) {
            obs.schedule.changed(&attrs, now, value);
            obs.snapshot = snapshot;
        }
    }

    fn find(&self, peer: PeerId, token: &[u8]) -> Option<&Observation> {
        self.observations.get(peer, token)
    }

    fn find_mut(&mut self, peer: PeerId, token: &[u8]) -> Option<&mut Observation> {
        self.observations.get_mut(peer, token)
    }

    /// The attributes governing an observation by `ssid` on `path`, with the server's Default
    /// Minimum and Maximum Period (`/1/x/2`, `/1/x/3`) where none is attached.
    fn effective_attrs(&self, ssid: u16, path: &Path) -> Attributes {
        effective(&self.attributes, &self.store, ssid, path)
    }

    /// The numeric value at `path` when the attributes compare values (`gt`, `lt`, `st`);
    /// otherwise not read at all (an application's sensor is read only when needed).
    fn numeric_value(&mut self, path: &Path, attrs: &Attributes) -> Option<f64> {
        if !attrs.has_value_conditions() {
            return None;
        }
        let (o, i, r) = (path.object_id()?, path.instance_id()?, path.resource_id()?);
        let mut model = DataModel::new(&mut self.store, &mut self.handlers);
        let value = match (model.read(o, i, r).ok()??, path.resource_instance_id()) {
            (ResourceValue::Single(v), None) => v,
            (ResourceValue::Multiple(m), Some(ri)) => m.get(&ri)?.clone(),
            _ => return None,
        };
        let _ = model.end();
        numeric(&value)
    }

    /// What the store holds at each path now, for objects the library holds (the
    /// application's report their changes through `changed`).
    fn snapshots(&self, paths: &[Path]) -> Vec<Option<Instances>> {
        paths
            .iter()
            .map(|path| {
                let o = path.object_id()?;
                if self.handlers.contains_key(&o) {
                    return None;
                }
                observed_values(&self.store, path)
            })
            .collect()
    }

    /// Whether the store still holds what `obs` last evaluated. A resource is compared in
    /// place (no copy: this runs for every observation of an object that changed).
    fn matches_snapshot(&self, obs: &Observation) -> bool {
        obs.paths.iter().zip(&obs.snapshot).all(|(path, snap)| {
            let Some(o) = path.object_id() else {
                return true;
            };
            if self.handlers.contains_key(&o) {
                return true;
            }
            match (
                path.instance_id(),
                path.resource_id(),
                path.resource_instance_id(),
            ) {
                (Some(i), Some(r), None) => {
                    let now = self.store.resource(o, i, r);
                    let then = snap
                        .as_ref()
                        .and_then(|s| s.get(&i))
                        .and_then(|res| res.get(&r));
                    now == then
                }
                _ => observed_values(&self.store, path) == *snap,
            }
        })
    }

    /// Finds the changes made to store-held objects since the last look, whichever way they
    /// were made (`set`, `store_mut`, a server's Write): an object's data is at another
    /// address once it changed (`Store::version`), so unchanged objects cost nothing.
    fn detect_changes(&mut self, now: u64) {
        if self.observations.is_empty() {
            self.observed_baseline = None;
            return;
        }
        let changed = self.changed_observed_objects();
        if changed.is_empty() {
            return;
        }
        let seen: Vec<(PeerId, Vec<u8>)> = self
            .observations
            .iter()
            .filter(|o| changed.iter().any(|x| o.looks_at(*x)))
            .filter(|o| !self.matches_snapshot(o))
            .map(|o| (o.peer, o.token.clone()))
            .collect();
        for (peer, token) in seen {
            self.mark_changed(now, peer, &token);
        }
        let store = &self.store;
        let versions = self
            .observations
            .objects()
            .filter_map(|o| Some((o, store.version(o)?)))
            .collect();
        self.observed_baseline = Some(versions);
    }

    /// The store-held objects some observation looks at that changed since the last look
    /// (all of them before the first look).
    fn changed_observed_objects(&self) -> Vec<u16> {
        self.changed_observed().collect()
    }

    fn changed_observed(&self) -> impl Iterator<Item = u16> + '_ {
        let baseline = self.observed_baseline.as_ref();
        self.observations
            .objects()
            .filter(|o| !self.handlers.contains_key(o))
            .filter(move |o| {
                let seen = baseline.and_then(|b| b.get(o));
                !seen.is_some_and(|v| self.store.is_version(*o, v))
            })
    }

    /// Whether an observed store-held object changed since the last look (`poll_timeout`
    /// then asks for a call now; asked on every turn, so nothing is collected).
    pub(super) fn observed_change_pending(&self) -> bool {
        self.changed_observed().next().is_some()
    }

    /// The earliest notification or evaluation deadline.
    pub(super) fn next_observation_deadline(&self) -> Option<u64> {
        self.observations
            .iter()
            .filter(|o| self.regs.is_registered_with(o.ssid))
            .filter_map(|o| {
                o.schedule
                    .next_deadline(&self.effective_attrs(o.ssid, &o.path))
            })
            .min()
    }

    /// Sends what is due: called from `drive`.
    pub(super) fn drive_observations(&mut self, now: u64) {
        self.detect_changes(now);
        // Nothing observed (the usual turn of most devices): nothing to walk (issue 15).
        if self.observations.is_empty() {
            return;
        }
        let due: Vec<(PeerId, Vec<u8>, Due)> = self
            .observations
            .iter()
            .filter(|o| self.regs.is_registered_with(o.ssid))
            .filter_map(|o| {
                let attrs = self.effective_attrs(o.ssid, &o.path);
                let due = o.schedule.due(&attrs, now);
                // Only a due one's token is copied (this runs on every turn).
                (due != Due::Nothing).then(|| (o.peer, o.token.clone(), due))
            })
            .collect();
        for (peer, token, due) in due {
            match due {
                Due::Notify => self.notify(now, peer, &token),
                Due::Evaluate => self.evaluate(now, peer, &token),
                Due::Nothing => {}
            }
        }
    }

    fn evaluate(&mut self, now: u64, peer: PeerId, token: &[u8]) {
        let Some((ssid, path)) = self.find(peer, token).map(|o| (o.ssid, o.path)) else {
            return;
        };
        let attrs = self.effective_attrs(ssid, &path);
        let value = self.numeric_value(&path, &attrs);
        if let Some(obs) = self.find_mut(peer, token) {
            obs.schedule.evaluated(&attrs, now, value);
        }
    }

    /// Sends one notification: the current value read as the Observe's Read was, in the same
    /// format. A read that fails is sent as that error and ends the observation (RFC 7641
    /// §4.2: a non-2.xx notification removes the observer), as does one too large to send.
    fn notify(&mut self, now: u64, peer: PeerId, token: &[u8]) {
        // The observation is borrowed, not cloned (issue 15: a clone copied its request and
        // its snapshot of the values for every notification).
        let Some(obs) = self.observations.get(peer, token) else {
            return;
        };
        let (ssid, path) = (obs.ssid, obs.path);
        let ctx = DmContext {
            ssid,
            default_format: self.config.default_format,
            max_instances: self.config.limits.max_instances,
        };
        let mut model = DataModel::new(&mut self.store, &mut self.handlers);
        let (reply, _) = dm::handle(&mut model, &ctx, &mut self.attributes, &obs.request);
        let _ = model.end(); // a Read changes nothing
        let reply = self.bounded(reply);
        if reply.code != msg::CONTENT {
            let ended = self.observations.remove_token(peer, token);
            self.deliver(now, ssid, peer, token, reply, true);
            if let Some(gone) = ended {
                self.observation_ended(gone);
            }
            return;
        }
        self.deliver(now, ssid, peer, token, reply, false);
        // The periods restart from this notification, sent or stored.
        let attrs = self.effective_attrs(ssid, &path);
        let value = self.numeric_value(&path, &attrs);
        let Some(obs) = self.find(peer, token) else {
            return;
        };
        let snapshot = self.snapshots(&obs.paths);
        if let Some(o) = self.find_mut(peer, token) {
            o.schedule.notified(now, value);
            o.snapshot = snapshot;
        }
    }

    /// Sends a notification now, or stores it while offline (`ends`: the error that ends its
    /// observation).
    fn deliver(
        &mut self,
        now: u64,
        ssid: u16,
        peer: PeerId,
        token: &[u8],
        reply: Reply,
        ends: bool,
    ) {
        // Queue mode: asleep, the notification waits for the Update that wakes the client.
        let held = !self.offline && self.held_for_wake_up(ssid);
        match self.offline || held {
            true => self.store_notification(Stored {
                ssid,
                peer,
                token: token.to_vec(),
                reply,
                ends,
            }),
            false => self.send_notification(now, peer, token, reply),
        }
    }

    /// Sends one notification (or the error that ends an observation) with the next Observe
    /// sequence number, confirmable when the CON interval has passed.
    pub(super) fn send_notification(&mut self, now: u64, peer: PeerId, token: &[u8], reply: Reply) {
        let interval = self.config.notify_con_interval_ms;
        let last_con = self.find(peer, token).map_or(0, |o| o.last_con_at);
        let confirmable = interval == 0 || now >= last_con.saturating_add(interval);
        let mut reply = reply;
        if reply.code == msg::CONTENT {
            reply.observe = Some(self.observations.next_seq());
        }
        let one_block = self
            .config
            .block_size
            .is_none_or(|size| reply.payload.len() <= (16usize << blockwise::szx_for(size)));
        let id = if !confirmable && one_block {
            // Written straight into its datagram, as answers are (`Reply::encode`).
            self.endpoint
                .send_non_encoded(now, peer, token, |head, out| reply.encode_into(head, out))
        } else {
            let mut packet = reply.into_packet();
            // RFC 7959 §3.4: a long notification carries its first block; the observer asks
            // for the rest with plain GETs.
            if let Err(error) = self.cut_block2(&mut packet, None) {
                packet = error.into_packet();
            }
            packet.set_token(token.to_vec());
            self.endpoint.send(now, peer, packet, confirmable)
        };
        self.observations.set_exchange(peer, token, id);
        if let Some(o) = self.find_mut(peer, token) {
            if confirmable {
                o.last_con_at = now;
            }
        }
    }

    /// Whether the observation with this peer and token still exists.
    pub(super) fn is_observing(&self, peer: PeerId, token: &[u8]) -> bool {
        self.find(peer, token).is_some()
    }

    /// A notification drew RST, or a confirmable one was never acknowledged: the server is no
    /// longer interested (RFC 7641 §3.6, §4.5). False if `id` was no notification.
    pub(super) fn notification_failed(&mut self, id: ExchangeId) -> bool {
        match self.observations.remove_exchange(id) {
            Some(gone) => {
                self.observation_ended(gone);
                true
            }
            None => false,
        }
    }

    /// Ends every observation of server `ssid`: it de-registered, registered anew (servers
    /// observe again after each Register, Core 1.1 §5.5), or its registration failed.
    pub(super) fn end_observations_of(&mut self, ssid: u16) {
        for gone in self.observations.remove_server(ssid) {
            self.observation_ended(gone);
        }
    }

    fn observation_ended(&mut self, gone: Observation) {
        self.emit(Event::ObservationCancelled {
            ssid: gone.ssid,
            path: gone.path,
        });
    }
}

/// The governing attributes (see `Client::effective_attrs`). The server's default periods
/// are read straight from its Server instance: this runs per observation per wake-up, so it
/// allocates nothing.
fn effective(attrs: &AttributeStore, store: &Store, ssid: u16, path: &Path) -> Attributes {
    let server = store.instances(crate::model::oid::SERVER).and_then(|all| {
        all.values().find(|res| {
            matches!(res.get(&accounts::srv::SSID),
                Some(ResourceValue::Single(Value::Integer(v))) if *v == i64::from(ssid))
        })
    });
    let period = |rid: u16| -> Option<u32> {
        match server?.get(&rid)? {
            ResourceValue::Single(Value::Integer(v)) => u32::try_from(*v).ok(),
            ResourceValue::Single(Value::Unsigned(v)) => u32::try_from(*v).ok(),
            _ => None,
        }
    };
    attrs.effective(
        ssid,
        path,
        period(accounts::srv::DEFAULT_PMIN),
        period(accounts::srv::DEFAULT_PMAX),
    )
}

/// What the store holds at `path` (whole object, instance, resource or resource instance).
fn observed_values(store: &Store, path: &Path) -> Option<Instances> {
    let o = path.object_id()?;
    let Some(i) = path.instance_id() else {
        return store.instances(o).cloned();
    };
    let inst = store.instance(o, i)?;
    let mut out = Instances::new();
    match (path.resource_id(), path.resource_instance_id()) {
        (None, _) => {
            out.insert(i, inst.clone());
        }
        (Some(r), ri) => {
            let mut res = crate::value::Resources::new();
            match (inst.get(&r)?, ri) {
                (rv, None) => {
                    res.insert(r, rv.clone());
                }
                (ResourceValue::Multiple(m), Some(ri)) => {
                    let one = [(ri, m.get(&ri)?.clone())].into_iter().collect();
                    res.insert(r, ResourceValue::Multiple(one));
                }
                (ResourceValue::Single(_), Some(_)) => return None,
            }
            out.insert(i, res);
        }
    }
    Some(out)
}
