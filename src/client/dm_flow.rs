//! Device Management requests from a registered server (Core 1.1 §5.4), over one data model:
//! the staged store and the application's objects.

use super::*;
use crate::data_model::DataModel;

impl Client {
    pub(super) fn on_dm_request(
        &mut self,
        now: u64,
        peer: PeerId,
        ssid: u16,
        packet: &Message<'_>,
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
        // A Read, Discover, Observe or Read-Composite changes nothing: it reads the committed
        // store directly, without a transaction (three store copies and a diff per request).
        if matches!(req.method, msg::GET | msg::FETCH) {
            #[cfg(debug_assertions)]
            let before = self.store.clone();
            let mut model = DataModel::new(&mut self.store, &mut self.handlers);
            let (mut reply, effects) = dm::handle(&mut model, &ctx, &mut self.attributes, req);
            model.end().finish(&mut self.handlers, reply.is_success());
            #[cfg(debug_assertions)]
            debug_assert!(
                self.store == before && effects.is_empty(),
                "a GET changed state"
            );
            let _ = effects;
            if req.observe.is_some() {
                self.observe_answered(now, peer, ssid, packet, req, &mut reply);
            }
            self.respond(now, peer, packet, reply);
            return;
        }
        // The request works on a transaction: the store's side is a staged copy, the
        // application's objects run their own. Refused anywhere or not saved, both are
        // dropped and the committed state was never touched.
        let mut txn = Transaction::begin(&self.store);
        let mut model = DataModel::new(txn.staged_mut(), &mut self.handlers);
        let (mut reply, mut effects) = dm::handle(&mut model, &ctx, &mut self.attributes, req);
        let app = model.end();
        let (staged, changes) = txn.result_over(&self.store);
        let outcome = if !reply.is_success() {
            Err(reply.clone())
        } else if let Err(code) = app.validate(&mut self.handlers) {
            Err(Reply::error(code, "the application refused the operation"))
        } else if changes.objects().any(|o| staged.is_persistent(o))
            && !self.save_candidate(&staged)
        {
            Err(Reply::error(
                msg::INTERNAL_SERVER_ERROR,
                "could not persist the configuration",
            ))
        } else {
            Ok(staged)
        };
        app.finish(&mut self.handlers, outcome.is_ok());
        match outcome {
            Ok(staged) => {
                self.store = staged;
                // Core 1.1 §5.3.2: the object list changed (in the store, or an application
                // object gained or lost an instance), so every registration gets an Update.
                let instances_changed = effects
                    .iter()
                    .any(|e| matches!(e, Effect::Created { .. } | Effect::Deleted { .. }));
                if changes.object_list_changed() || instances_changed {
                    self.regs.want_update_all();
                }
            }
            Err(r) => {
                reply = r;
                effects.clear();
            }
        }
        self.respond(now, peer, packet, reply);
        for effect in effects {
            match effect {
                Effect::Executed { path, args } => self.emit(Event::Executed { ssid, path, args }),
                Effect::Written { path } => self.emit(Event::Written { ssid, path }),
                Effect::Created { path } => self.emit(Event::Created { ssid, path }),
                Effect::Deleted { path } => {
                    if let (Some(o), Some(i)) = (path.object_id(), path.instance_id()) {
                        self.attributes.forget_instance(o, i);
                    }
                    self.emit(Event::Deleted { ssid, path })
                }
                Effect::UpdateTrigger { ssid } => self.regs.want_update(ssid),
                Effect::RegistrationParamsChanged { .. } => self.sync_servers(now, false),
                Effect::BootstrapTrigger => self.schedule_bootstrap(now, false),
                Effect::Disable { ssid } => {
                    self.regs.disable(now, ssid);
                    self.apply_registration_outputs(now);
                }
            }
        }
    }
}
