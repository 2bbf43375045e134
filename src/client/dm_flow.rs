//! Device Management requests from a registered server (Core 1.1 §5.4), and the bridge to the
//! objects whose values the application holds (`ObjectHandler`).

use super::*;

impl Client {
    pub(super) fn on_dm_request(
        &mut self,
        now: u64,
        peer: PeerId,
        ssid: u16,
        packet: &Packet,
        req: &Request,
    ) {
        if req.is_bs() {
            // Bootstrap-Finish from a server that is not the Bootstrap-Server (Leshan: 4.00).
            self.respond(
                now,
                peer,
                packet,
                Reply::error(msg::BAD_REQUEST, "not a Bootstrap-Server"),
            );
            return;
        }
        let ctx = DmContext {
            ssid,
            default_format: self.config.default_format,
            max_instances: self.config.limits.max_instances,
        };
        let target = req.path().ok();
        let handled = target
            .and_then(|p| p.object_id())
            .filter(|o| self.handlers.contains_key(o));
        if let (Some(o), Some(path)) = (handled, target) {
            if req.method == msg::GET && req.accept == Some(40) {
                if let Some(reply) = self.discover_listed(o, &path) {
                    self.respond(now, peer, packet, reply);
                    return;
                }
            }
        }
        if let Some(o) = handled {
            // Bring the application's state into the store before answering: values for a
            // Read (only the target for a single resource), values where readable for a
            // Discover, and only the instance list for anything else.
            let refresh = match (req.method, req.accept) {
                (msg::GET, Some(40)) => Refresh::Values {
                    only: None,
                    tolerate: true,
                },
                (msg::GET, _) => Refresh::Values {
                    only: target,
                    tolerate: false,
                },
                _ => Refresh::Instances,
            };
            if let Err(code) = self.refresh_handler(o, refresh) {
                let reply = Reply::error(code, "the application could not read the object");
                self.respond(now, peer, packet, reply);
                return;
            }
        }
        // The request works on a transaction: refused by the application or not saved, it
        // is dropped and the committed store was never touched.
        let mut txn = Transaction::begin(&self.store);
        let (mut reply, mut effects) = dm::handle(txn.staged_mut(), &ctx, req);
        let refused = match handled {
            Some(o) => self.apply_to_handler(o, txn.staged(), &mut effects).err(),
            None => None,
        };
        let (result, changes) = txn.result_over(&self.store);
        if let Some(code) = refused {
            reply = Reply::error(code, "the application refused the operation");
            effects.clear();
        } else if changes.objects().iter().any(|o| result.is_persistent(*o))
            && !self.save_candidate(&result)
        {
            reply = Reply::error(
                msg::INTERNAL_SERVER_ERROR,
                "could not persist the configuration",
            );
            effects.clear();
        } else {
            self.store = result;
            if changes.object_list_changed() {
                // Core 1.1 §5.3.2: the object list changed, so every registration gets an
                // Update carrying the new list.
                self.regs.want_update_all();
            }
        }
        self.respond(now, peer, packet, reply);
        for effect in effects {
            match effect {
                Effect::Executed { path, args } => self.emit(Event::Executed { ssid, path, args }),
                Effect::Written { path } => self.emit(Event::Written { ssid, path }),
                Effect::Created { path } => self.emit(Event::Created { ssid, path }),
                Effect::Deleted { path } => self.emit(Event::Deleted { ssid, path }),
                Effect::UpdateTrigger { ssid } => self.regs.want_update(ssid),
                Effect::RegistrationParamsChanged { .. } => self.sync_servers(now, false),
                Effect::BootstrapTrigger => self.schedule_bootstrap(now, false),
            }
        }
    }

    /// Discover on an application object that lists its resources itself: answered from that
    /// listing, without a single read. `None` if the object does not list them (or its
    /// instances cannot be had): the caller falls back to reading.
    pub(super) fn discover_listed(&mut self, o: u16, path: &Path) -> Option<Reply> {
        if matches!(o, crate::model::oid::SECURITY | crate::model::oid::OSCORE) {
            return None; // dm::handle refuses these (4.01) whoever holds them
        }
        let def = self.store.def(o)?.clone();
        let handler = self.handlers.get_mut(&o)?;
        let mut listing = dm::Listing::new();
        // Only the instances the Discover shows are asked (/O/I: that one, if it exists).
        let wanted = handler
            .instances()
            .ok()?
            .into_iter()
            .filter(|iid| path.instance_id().is_none_or(|i| i == *iid));
        for iid in wanted {
            match handler.resources(iid) {
                Ok(Some(present)) => {
                    let known = present
                        .into_iter()
                        .filter(|(rid, _)| def.resource(*rid).is_some())
                        .collect();
                    listing.insert(iid, known);
                }
                Ok(None) => return None,
                Err(code) => {
                    return Some(Reply::error(
                        code,
                        "the application could not list the object",
                    ))
                }
            }
        }
        Some(dm::discover_listing(&def, path, &listing))
    }

    /// Reloads object `o` from its handler (see `Refresh`). Instances the handler no longer
    /// lists disappear; values of instances it still lists are kept unless re-read.
    pub(super) fn refresh_handler(&mut self, o: u16, refresh: Refresh) -> Result<(), u8> {
        let Some(def) = self.store.def(o).cloned() else {
            return Ok(());
        };
        let Some(handler) = self.handlers.get_mut(&o) else {
            return Ok(());
        };
        let old = self.store.instances(o).cloned().unwrap_or_default();
        let mut instances = Instances::new();
        for iid in handler.instances()? {
            let mut res = old.get(&iid).cloned().unwrap_or_default();
            if let Refresh::Values { only, tolerate } = refresh {
                let target = only.and_then(|p| Some((p.instance_id()?, p.resource_id()?)));
                for rdef in def.resources.iter().filter(|r| r.operations.readable()) {
                    if target.is_some_and(|t| t != (iid, rdef.id)) {
                        continue;
                    }
                    match handler.read(iid, rdef.id) {
                        Ok(v) if value_fits(&v, rdef) => {
                            res.insert(rdef.id, v);
                        }
                        Err(msg::NOT_FOUND) => {
                            res.remove(&rdef.id);
                        }
                        _ if tolerate => {
                            res.remove(&rdef.id);
                        }
                        Ok(_) => return Err(msg::INTERNAL_SERVER_ERROR),
                        Err(code) => return Err(code),
                    }
                }
            }
            instances.insert(iid, res);
        }
        self.store
            .set_instances(o, instances)
            .map_err(|_| msg::INTERNAL_SERVER_ERROR)
    }

    /// Passes writes and executes on a handled object to the application. Executes it handles
    /// are not reported as events.
    pub(super) fn apply_to_handler(
        &mut self,
        o: u16,
        staged: &Store,
        effects: &mut Vec<Effect>,
    ) -> Result<(), u8> {
        let Some(def) = staged.def(o).cloned() else {
            return Ok(());
        };
        let Some(handler) = self.handlers.get_mut(&o) else {
            return Ok(());
        };
        for effect in effects.iter() {
            match effect {
                Effect::Written { path } => {
                    let Some(iid) = path.instance_id() else {
                        continue;
                    };
                    let Some(inst) = staged.instance(o, iid) else {
                        continue;
                    };
                    for (rid, value) in inst {
                        let named = path.resource_id().is_none_or(|r| r == *rid);
                        if named && def.resource(*rid).is_some_and(|r| r.operations.writable()) {
                            handler.write(iid, *rid, value)?;
                        }
                    }
                }
                Effect::Executed { path, args } => {
                    if let (Some(iid), Some(rid)) = (path.instance_id(), path.resource_id()) {
                        handler.execute(iid, rid, args)?;
                    }
                }
                Effect::Created { path } => {
                    let Some(iid) = path.instance_id() else {
                        continue;
                    };
                    let values = staged.instance(o, iid).cloned().unwrap_or_default();
                    handler.create(iid, &values)?;
                }
                Effect::Deleted { path } => {
                    if let Some(iid) = path.instance_id() {
                        handler.delete(iid)?;
                    }
                }
                _ => {}
            }
        }
        effects.retain(|e| !matches!(e, Effect::Executed { .. }));
        Ok(())
    }

    /// Refreshes the instance list of every handled object (before Register/Update, so the
    /// object list is current). Values are not read here: a failing sensor must not change
    /// what the device announces.
    pub(super) fn refresh_all_handlers(&mut self) {
        let objects: Vec<u16> = self.handlers.keys().copied().collect();
        for o in objects {
            let _ = self.refresh_handler(o, Refresh::Instances);
        }
    }
}

/// What to read from an application-held object before answering a server.
#[derive(Debug, Clone, Copy)]
pub(super) enum Refresh {
    /// Only which instances exist.
    Instances,
    /// Also the readable values (only the target resource's, if given); with `tolerate`, a
    /// resource whose read fails is left out instead of failing the request.
    Values { only: Option<Path>, tolerate: bool },
}

/// Whether a value handed over by the application has the shape and type its resource declares.
pub(super) fn value_fits(v: &ResourceValue, rdef: &crate::model::ResourceDef) -> bool {
    match v {
        ResourceValue::Single(x) => !rdef.multiple && x.resource_type() == rdef.kind,
        ResourceValue::Multiple(m) => {
            rdef.multiple && m.values().all(|x| x.resource_type() == rdef.kind)
        }
    }
}
