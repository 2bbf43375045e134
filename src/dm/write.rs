//! Write, Create and Delete (Core 1.1 §5.4.3, §5.4.4, §5.4.6): the checks a request must pass
//! before the data model is changed, then one call per change.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{failed, object_def, only, target, Effect};
use crate::access::Access;
use crate::coap::msg;
use crate::codec::{self, CodecError};
use crate::data_model::{DataModel, WriteMode};
use crate::model::oid;
use crate::path::Path;
use crate::request::{Reply, Request};
use crate::value::{Instances, ResourceValue, Resources};

/// The reply to a payload the codec refused.
fn undecodable(e: CodecError, format: u16) -> Reply {
    match e {
        CodecError::Unsupported => {
            Reply::error(msg::UNSUPPORTED_CONTENT_FORMAT, format!("format {format}"))
        }
        e => Reply::error(msg::BAD_REQUEST, e),
    }
}

/// PUT (replace) or POST-with-payload (partial update) on `/O/I`, `/O/I/R` or `/O/I/R/RI`.
pub(super) fn write(
    model: &mut DataModel<'_>,
    access: &Access,
    path: &Path,
    req: &Request,
    partial: bool,
) -> (Reply, Vec<Effect>) {
    let (def, rdef) = match target(model, path) {
        Ok(t) => t,
        Err(r) => return only(r),
    };
    // Transport 1.1 §6.3 mapping: Write at object level is not supported over CoAP.
    let Some(iid) = path.instance_id() else {
        return only(Reply::error(
            msg::METHOD_NOT_ALLOWED,
            "Write needs /O/I or deeper",
        ));
    };
    if let Some(rd) = &rdef {
        if !rd.operations.writable() {
            return only(Reply::error(
                msg::METHOD_NOT_ALLOWED,
                format!("{path} is not writable"),
            ));
        }
        if path.resource_instance_id().is_some() && !rd.multiple {
            return only(Reply::error(
                msg::NOT_FOUND,
                format!("{path} is not a multiple resource"),
            ));
        }
    }
    let format = match req.payload_format() {
        Ok(f) => f,
        Err(reply) => return only(reply),
    };
    let decoded = match codec::decode(format, path, &req.payload, model.store()) {
        Ok(d) => d,
        Err(e) => return only(undecodable(e, format.code())),
    };
    let mut incoming = match decoded.into_iter().next() {
        Some((i, res)) if i == iid => res,
        Some(_) => {
            return only(Reply::error(
                msg::BAD_REQUEST,
                "payload names another instance",
            ))
        }
        None => Resources::new(),
    };
    // Core 1.1 §6.3.3: "perform the operation only if all the Resources conveyed in the
    // operation are allowed to support the Write operation", else 4.05 and nothing changes.
    for rid in incoming.keys() {
        if !def.resource(*rid).is_some_and(|r| r.operations.writable()) {
            return only(Reply::error(
                msg::METHOD_NOT_ALLOWED,
                format!("{} is not writable", Path::resource(def.id, iid, *rid)),
            ));
        }
    }
    // An ACL names configured servers only, so no Write makes it grow beyond them (`access`).
    if def.id == oid::ACCESS_CONTROL {
        if let Err(why) = access.check_acl_write(model.store(), iid, &incoming) {
            return only(Reply::error(msg::BAD_REQUEST, why));
        }
    }
    let no_value = || {
        only(Reply::error(
            msg::BAD_REQUEST,
            "payload carries no value for the target",
        ))
    };
    let (changes, mode) = match (path.resource_id(), path.resource_instance_id()) {
        (Some(r), Some(ri)) => {
            // One resource instance: the others of the resource stay.
            let Some(ResourceValue::Multiple(new)) = incoming.remove(&r) else {
                return no_value();
            };
            let Some(v) = new.get(&ri).cloned() else {
                return no_value();
            };
            let mut m = match model.read(def.id, iid, r) {
                Ok(Some(ResourceValue::Multiple(m))) => m,
                Ok(_) => Default::default(),
                Err(code) => return only(failed(code)),
            };
            m.insert(ri, v);
            let one: Resources = [(r, ResourceValue::Multiple(m))].into_iter().collect();
            (one, WriteMode::Update)
        }
        (Some(r), None) => match incoming.remove(&r) {
            Some(v) => ([(r, v)].into_iter().collect(), WriteMode::Update),
            None => return no_value(),
        },
        (None, _) if partial => (incoming, WriteMode::Update),
        (None, _) => (incoming, WriteMode::Replace),
    };
    if let Err(code) = model.write(def.id, iid, changes, mode) {
        return only(failed(code));
    }
    let mut effects = alloc::vec![Effect::Written { path: *path }];
    if def.id == oid::SERVER {
        if let Some(ssid) = crate::accounts::server_accounts(model.store())
            .iter()
            .find(|a| a.server_iid == iid)
            .map(|a| a.ssid)
        {
            effects.push(Effect::RegistrationParamsChanged { ssid });
        }
    }
    (Reply::code(msg::CHANGED), effects)
}

/// Create (POST /O with a payload), Core 1.1 §5.4.4 / FACTS §4.1: the payload names the new
/// instance (an Object Instance TLV or SenML names) or the client picks the smallest free ID and
/// answers its Location-Path. Read-only values in the payload are ignored; missing Mandatory
/// resources, an existing ID, or a second instance of a single-instance object are 4.00, and
/// nothing is created on any error. While access control applies, the new instance gets an ACL
/// instance owned by its creator (Core 1.1 §7.3, `access`).
pub(super) fn create(
    model: &mut DataModel<'_>,
    access: &Access,
    path: &Path,
    req: &Request,
    max_instances: usize,
) -> (Reply, Vec<Effect>) {
    let def = match object_def(model, path) {
        Ok(d) => d,
        Err(r) => return only(r),
    };
    let format = match req.payload_format() {
        Ok(f) => f,
        Err(reply) => return only(reply),
    };
    let existing = match model.instance_ids(def.id) {
        Ok(ids) => ids,
        Err(code) => return only(failed(code)),
    };
    // With an Object Instance TLV (or SenML names) the server chose the ID; otherwise the
    // payload holds only resources (or nothing) and the client picks one.
    let free = (0..crate::path::MAX_ID).find(|id| existing.binary_search(id).is_err());
    let at_free_id = |model: &DataModel<'_>| -> Result<Instances, CodecError> {
        let iid = free.ok_or(CodecError::Malformed("no free instance ID".into()))?;
        let at = Path::instance(def.id, iid);
        codec::decode(format, &at, &req.payload, model.store())
    };
    let decoded = match codec::decode(format, path, &req.payload, model.store()) {
        Ok(d) if d.is_empty() => at_free_id(model),
        Ok(d) => Ok(d),
        Err(first) => at_free_id(model).map_err(|_| first),
    };
    let mut decoded = match decoded {
        Ok(d) => d,
        Err(e) => return only(undecodable(e, format.code())),
    };
    let (iid, mut resources) = match (decoded.len(), decoded.pop_first()) {
        (1, Some(one)) => one,
        _ => {
            return only(Reply::error(
                msg::BAD_REQUEST,
                "Create carries exactly one instance",
            ))
        }
    };
    if existing.binary_search(&iid).is_ok() {
        let at = Path::instance(def.id, iid);
        return only(Reply::error(msg::BAD_REQUEST, format!("{at} exists")));
    }
    if !def.multiple && !existing.is_empty() {
        return only(Reply::error(
            msg::BAD_REQUEST,
            format!("object {} is single-instance", def.id),
        ));
    }
    // A bound on what a server can make the device hold (and rewrite to flash on every Create).
    if existing.len() >= max_instances {
        return only(Reply::error(
            msg::INTERNAL_SERVER_ERROR,
            format!(
                "object {} holds its maximum of {max_instances} instances",
                def.id
            ),
        ));
    }
    resources.retain(|rid, _| def.resource(*rid).is_some_and(|r| r.operations.writable()));
    let missing: Vec<String> = def
        .resources
        .iter()
        .filter(|r| r.mandatory && r.operations.writable() && !resources.contains_key(&r.id))
        .map(|r| format!("{}", r.id))
        .collect();
    if !missing.is_empty() {
        return only(Reply::error(
            msg::BAD_REQUEST,
            format!("mandatory resources missing: {}", missing.join(", ")),
        ));
    }
    if def.id == oid::ACCESS_CONTROL {
        if let Err(why) = access.check_acl_write(model.store(), iid, &resources) {
            return only(Reply::error(msg::BAD_REQUEST, why));
        }
    }
    let acl = match access.acl_for_created(model.store(), def.id, iid, max_instances) {
        Ok(acl) => acl,
        Err(why) => return only(Reply::error(msg::INTERNAL_SERVER_ERROR, why)),
    };
    if let Err(code) = model.create(def.id, iid, resources) {
        return only(failed(code));
    }
    if let Some((acl_iid, acl)) = acl {
        if let Err(e) = model
            .store_mut()
            .create_instance(oid::ACCESS_CONTROL, acl_iid, acl)
        {
            return only(Reply::error(msg::INTERNAL_SERVER_ERROR, e));
        }
    }
    let mut reply = Reply::code(msg::CREATED);
    reply.location = alloc::vec![format!("{}", def.id), format!("{iid}")];
    let created = Effect::Created {
        path: Path::instance(def.id, iid),
    };
    (reply, alloc::vec![created])
}

/// Delete (DELETE /O/I), Core 1.1 §5.4.6: the Device instance "SHALL NOT be affected" (4.05);
/// only instances can be deleted by a server (4.05 otherwise).
pub(super) fn delete(model: &mut DataModel<'_>, path: &Path) -> (Reply, Vec<Effect>) {
    let (Some(o), Some(i), None) = (path.object_id(), path.instance_id(), path.resource_id())
    else {
        return only(Reply::error(msg::METHOD_NOT_ALLOWED, "Delete targets /O/I"));
    };
    if o == oid::DEVICE {
        return only(Reply::error(
            msg::METHOD_NOT_ALLOWED,
            "the Device instance cannot be deleted",
        ));
    }
    if let Err(r) = object_def(model, path) {
        return only(r);
    }
    match model.delete(o, i) {
        Ok(true) => {
            // Its ACL instances go with it (Core 1.1 §7.3; `access`).
            crate::access::forget_instance(model.store_mut(), o, i);
            (
                Reply::code(msg::DELETED),
                alloc::vec![Effect::Deleted { path: *path }],
            )
        }
        Ok(false) => only(Reply::error(msg::NOT_FOUND, format!("{path} not found"))),
        Err(code) => only(failed(code)),
    }
}
