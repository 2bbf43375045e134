//! Device Management and Service Enablement interface (Core 1.1 §6.3): Read, Discover, Write,
//! Execute, as a registered LwM2M Server sees them.
//!
//! Handlers are pure functions over the store: they return the reply and the effects the client
//! must act on (an event for the application, a registration Update, a bootstrap).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::coap::msg;
use crate::codec::link::{format_links, Link};
use crate::codec::{self, CodecError, ContentFormat};
use crate::model::{oid, ObjectDef, ResourceDef};
use crate::path::Path;
use crate::request::{Reply, Request};
use crate::store::Store;
use crate::value::{Instances, ResourceType, ResourceValue, Resources};

/// What a handled request asks the client to do besides replying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// An application resource was executed.
    Executed { path: Path, args: Vec<u8> },
    /// A value was written.
    Written { path: Path },
    /// An instance was created (`/O/I`).
    Created { path: Path },
    /// An instance was deleted (`/O/I`).
    Deleted { path: Path },
    /// `/1/x/8` Registration Update Trigger for the server with this SSID.
    UpdateTrigger { ssid: u16 },
    /// `/1/x/9` Bootstrap-Request Trigger (Core 1.1 §5.2.3.4: start client-initiated bootstrap).
    BootstrapTrigger,
    /// A registration parameter (lifetime, binding) of this server changed: send an Update.
    RegistrationParamsChanged { ssid: u16 },
}

/// Per-request context.
#[derive(Debug, Clone, Copy)]
pub struct DmContext {
    /// The requesting server.
    pub ssid: u16,
    /// Format used when a Read of several values comes without Accept.
    pub default_format: ContentFormat,
    /// Most instances an object may hold (`Limits::max_instances`).
    pub max_instances: usize,
}

/// Handles one DM request from a registered server.
pub fn handle(store: &mut Store, ctx: &DmContext, req: &Request) -> (Reply, Vec<Effect>) {
    let path = match req.path() {
        Ok(p) => p,
        Err(e) => return (Reply::error(msg::NOT_FOUND, e), Vec::new()),
    };
    // Core 1.1 §6.3 (Security object): "MUST reject any LwM2M Server operation on the Security
    // Object (ID: 0)" with "not authorized"; the OSCORE object (21) is treated the same way.
    if matches!(path.object_id(), Some(oid::SECURITY) | Some(oid::OSCORE)) {
        return (
            Reply::error(msg::UNAUTHORIZED, "security objects are not accessible"),
            Vec::new(),
        );
    }
    match req.method {
        msg::GET if req.accept == Some(ContentFormat::LinkFormat.code()) => {
            (discover(store, &path), Vec::new())
        }
        msg::GET => (read(store, ctx, &path, req), Vec::new()),
        msg::PUT if !req.queries.is_empty() => (
            // Write-Attributes comes with Information Reporting; until then say so clearly.
            Reply::error(msg::METHOD_NOT_ALLOWED, "Write-Attributes is not supported"),
            Vec::new(),
        ),
        msg::PUT => write(store, &path, req, false),
        msg::POST => post(store, ctx, &path, req),
        msg::DELETE => delete(store, &path),
        _ => (Reply::code(msg::METHOD_NOT_ALLOWED), Vec::new()),
    }
}

/// Looks up the object definition, answering 4.04 for unknown objects.
fn object_def<'s>(store: &'s Store, path: &Path) -> Result<&'s ObjectDef, Reply> {
    let o = path
        .object_id()
        .ok_or_else(|| Reply::error(msg::METHOD_NOT_ALLOWED, "no object in path"))?;
    store
        .def(o)
        .ok_or_else(|| Reply::error(msg::NOT_FOUND, format!("object {o} not supported")))
}

/// Checks that the instance exists and the resource (if any) is defined, returning its definition.
fn target<'s>(
    store: &'s Store,
    path: &Path,
) -> Result<(&'s ObjectDef, Option<&'s ResourceDef>), Reply> {
    let def = object_def(store, path)?;
    let Some(i) = path.instance_id() else {
        return Ok((def, None));
    };
    if !store.has_instance(def.id, i) {
        return Err(Reply::error(msg::NOT_FOUND, format!("{path} not found")));
    }
    match path.resource_id() {
        None => Ok((def, None)),
        Some(r) => def
            .resource(r)
            .map(|rd| (def, Some(rd)))
            .ok_or_else(|| Reply::error(msg::NOT_FOUND, format!("{path} not found"))),
    }
}

fn read(store: &Store, ctx: &DmContext, path: &Path, req: &Request) -> Reply {
    let (def, rdef) = match target(store, path) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if let Some(rd) = rdef {
        if !rd.operations.readable() {
            return Reply::error(msg::METHOD_NOT_ALLOWED, format!("{path} is not readable"));
        }
    }
    let content = match readable_content(store, def, path) {
        Some(c) => c,
        None => return Reply::error(msg::NOT_FOUND, format!("{path} has no value")),
    };
    let single_value = rdef.is_some_and(|rd| !rd.multiple) || path.resource_instance_id().is_some();
    // Core 1.1 §7.1: without Accept the client picks; plain text (opaque for Opaque) for a
    // single value, the configured multi-value format otherwise.
    let default = if single_value && rdef.is_some_and(|rd| rd.kind == ResourceType::Opaque) {
        ContentFormat::Opaque
    } else if single_value {
        ContentFormat::Text
    } else {
        ctx.default_format
    };
    let format = match req.answer_format(|_| true, default) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    match codec::encode(format, path, &content) {
        Ok(bytes) => Reply::content(format.code(), bytes),
        Err(CodecError::Unsupported) => Reply::error(
            msg::NOT_ACCEPTABLE,
            format!("format {} cannot carry {path}", format.code()),
        ),
        Err(e) => Reply::error(msg::INTERNAL_SERVER_ERROR, e),
    }
}

/// What a Read of `path` returns: only readable resources (Core 1.1 §6.3.1: a Read of an
/// instance or object skips resources that do not support Read). `None` if the target resource
/// or resource instance holds no value.
fn readable_content(store: &Store, def: &ObjectDef, path: &Path) -> Option<Instances> {
    let readable = |rid: &u16| def.resource(*rid).is_some_and(|r| r.operations.readable());
    let filter = |res: &Resources| -> Resources {
        res.iter()
            .filter(|(rid, _)| readable(rid))
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    };
    let mut out = Instances::new();
    match (path.instance_id(), path.resource_id()) {
        (None, _) => {
            for (iid, res) in store.instances(def.id)? {
                out.insert(*iid, filter(res));
            }
        }
        (Some(i), None) => {
            out.insert(i, filter(store.instance(def.id, i)?));
        }
        (Some(i), Some(r)) => {
            let rv = store.resource(def.id, i, r)?;
            let rv = match (rv, path.resource_instance_id()) {
                (_, None) => rv.clone(),
                (ResourceValue::Multiple(m), Some(ri)) => {
                    let v = m.get(&ri)?.clone();
                    ResourceValue::Multiple([(ri, v)].into_iter().collect())
                }
                (ResourceValue::Single(_), Some(_)) => return None,
            };
            let mut res = Resources::new();
            res.insert(r, rv);
            out.insert(i, res);
        }
    }
    Some(out)
}

/// What Discover shows of one object: per instance, its resources with the number of
/// instances of each multiple resource (`dim`).
pub type Listing = BTreeMap<u16, crate::object::PresentResources>;

fn discover(store: &Store, path: &Path) -> Reply {
    let (def, _) = match target(store, path) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let listing: Listing = store
        .instances(def.id)
        .into_iter()
        .flatten()
        .map(|(iid, res)| {
            let present = res
                .iter()
                .map(|(rid, v)| {
                    let dim = match v {
                        ResourceValue::Multiple(m) => Some(m.len()),
                        ResourceValue::Single(_) => None,
                    };
                    (*rid, dim)
                })
                .collect();
            (*iid, present)
        })
        .collect();
    discover_listing(def, path, &listing)
}

/// Discover (Core 1.1 §5.4.3) over what an object says it holds, without reading a value:
/// the store's objects and application objects that list their resources both answer here.
/// Every resource listed is shown, plus the object's executable resources (they hold no value
/// but are there to be executed: `</3/0/4>` appears in the spec's Discover /3 example).
pub fn discover_listing(def: &ObjectDef, path: &Path, listing: &Listing) -> Reply {
    if path.resource_instance_id().is_some() {
        return Reply::error(
            msg::METHOD_NOT_ALLOWED,
            "Discover targets /O, /O/I or /O/I/R",
        );
    }
    let resource_links = |links: &mut Vec<Link>, iid: u16, present: &[(u16, Option<usize>)]| {
        let executable = def
            .resources
            .iter()
            .filter(|r| r.operations.executable())
            .map(|r| (r.id, None));
        let mut all: Vec<(u16, Option<usize>)> =
            present.iter().copied().chain(executable).collect();
        all.sort_unstable_by_key(|(rid, dim)| (*rid, dim.is_none()));
        all.dedup_by_key(|(rid, _)| *rid);
        for (rid, dim) in all {
            links.push(resource_link(def.id, iid, rid, dim));
        }
    };
    let mut links = Vec::new();
    match (path.instance_id(), path.resource_id()) {
        (None, _) => {
            let mut l = Link::new(format!("/{}", def.id));
            if let Some(v) = def.announced_version() {
                l.attrs.push(("ver".into(), Some(v.into())));
            }
            links.push(l);
            for (iid, present) in listing {
                links.push(Link::new(format!("/{}/{iid}", def.id)));
                resource_links(&mut links, *iid, present);
            }
        }
        (Some(i), None) => {
            let Some(present) = listing.get(&i) else {
                return Reply::error(msg::NOT_FOUND, format!("{path} not found"));
            };
            links.push(Link::new(format!("/{}/{i}", def.id)));
            resource_links(&mut links, i, present);
        }
        (Some(i), Some(r)) => {
            let Some(present) = listing.get(&i) else {
                return Reply::error(msg::NOT_FOUND, format!("{path} not found"));
            };
            if def.resource(r).is_none() {
                return Reply::error(msg::NOT_FOUND, format!("{path} not found"));
            }
            let dim = present
                .iter()
                .find(|(rid, _)| *rid == r)
                .and_then(|(_, d)| *d);
            links.push(resource_link(def.id, i, r, dim));
        }
    }
    Reply::content(
        ContentFormat::LinkFormat.code(),
        format_links(&links).into_bytes(),
    )
}

fn resource_link(o: u16, iid: u16, rid: u16, dim: Option<usize>) -> Link {
    let mut l = Link::new(format!("/{o}/{iid}/{rid}"));
    if let Some(n) = dim {
        l.attrs.push(("dim".into(), Some(format!("{n}"))));
    }
    l
}

/// PUT (replace) or POST-with-payload (partial update) on `/O/I`, `/O/I/R` or `/O/I/R/RI`.
fn write(store: &mut Store, path: &Path, req: &Request, partial: bool) -> (Reply, Vec<Effect>) {
    let none = Vec::new;
    let (def, rdef) = match target(store, path) {
        Ok(t) => t,
        Err(r) => return (r, none()),
    };
    // Transport 1.1 §6.3 mapping: Write at object level is not supported over CoAP.
    let Some(iid) = path.instance_id() else {
        return (
            Reply::error(msg::METHOD_NOT_ALLOWED, "Write needs /O/I or deeper"),
            none(),
        );
    };
    if let Some(rd) = rdef {
        if !rd.operations.writable() {
            return (
                Reply::error(msg::METHOD_NOT_ALLOWED, format!("{path} is not writable")),
                none(),
            );
        }
        if path.resource_instance_id().is_some() && !rd.multiple {
            return (
                Reply::error(msg::NOT_FOUND, format!("{path} is not a multiple resource")),
                none(),
            );
        }
    }
    let format = match req.payload_format() {
        Ok(f) => f,
        Err(reply) => return (reply, none()),
    };
    let decoded = match codec::decode(format, path, &req.payload, store) {
        Ok(d) => d,
        Err(CodecError::Unsupported) => {
            return (
                Reply::error(
                    msg::UNSUPPORTED_CONTENT_FORMAT,
                    format!("format {} for {path}", format.code()),
                ),
                none(),
            )
        }
        Err(e) => return (Reply::error(msg::BAD_REQUEST, e), none()),
    };
    let def = def.clone();
    let incoming = match decoded.into_iter().next() {
        Some((i, res)) if i == iid => res,
        Some(_) => {
            return (
                Reply::error(msg::BAD_REQUEST, "payload names another instance"),
                none(),
            )
        }
        None => Resources::new(),
    };
    // Core 1.1 §6.3.3: "perform the operation only if all the Resources conveyed in the
    // operation are allowed to support the Write operation", else 4.05 and nothing changes.
    for rid in incoming.keys() {
        if !def.resource(*rid).is_some_and(|r| r.operations.writable()) {
            return (
                Reply::error(
                    msg::METHOD_NOT_ALLOWED,
                    format!("{} is not writable", Path::resource(def.id, iid, *rid)),
                ),
                none(),
            );
        }
    }
    let mut merged = store.instance(def.id, iid).cloned().unwrap_or_default();
    match (path.resource_id(), path.resource_instance_id()) {
        (Some(r), Some(ri)) => {
            let Some(ResourceValue::Multiple(new)) = incoming.get(&r) else {
                return (
                    Reply::error(msg::BAD_REQUEST, "payload carries no value"),
                    none(),
                );
            };
            let mut m = match merged.get(&r) {
                Some(ResourceValue::Multiple(m)) => m.clone(),
                _ => Default::default(),
            };
            match new.get(&ri) {
                Some(v) => m.insert(ri, v.clone()),
                None => {
                    return (
                        Reply::error(msg::BAD_REQUEST, "payload carries no value"),
                        none(),
                    )
                }
            };
            merged.insert(r, ResourceValue::Multiple(m));
        }
        (Some(r), None) => match incoming.get(&r) {
            Some(v) => {
                merged.insert(r, v.clone());
            }
            None => {
                return (
                    Reply::error(msg::BAD_REQUEST, "payload carries no value for the target"),
                    none(),
                )
            }
        },
        (None, _) => {
            if !partial {
                // Replace: writable optional resources absent from the payload are removed.
                merged.retain(|rid, _| {
                    incoming.contains_key(rid)
                        || def
                            .resource(*rid)
                            .is_some_and(|r| !r.operations.writable() || r.mandatory)
                });
            }
            merged.extend(incoming);
        }
    }
    let mut instances = store.instances(def.id).cloned().unwrap_or_default();
    instances.insert(iid, merged);
    if let Err(e) = store.set_instances(def.id, instances) {
        return (Reply::error(msg::INTERNAL_SERVER_ERROR, e), none());
    }
    let mut effects = alloc::vec![Effect::Written { path: *path }];
    if def.id == oid::SERVER {
        if let Some(ssid) = crate::accounts::server_accounts(store)
            .iter()
            .find(|a| a.server_iid == iid)
            .map(|a| a.ssid)
        {
            effects.push(Effect::RegistrationParamsChanged { ssid });
        }
    }
    (Reply::code(msg::CHANGED), effects)
}

fn post(store: &mut Store, ctx: &DmContext, path: &Path, req: &Request) -> (Reply, Vec<Effect>) {
    match (path.instance_id(), path.resource_id()) {
        (None, _) => create(store, path, req, ctx.max_instances),
        (Some(_), None) => write(store, path, req, true),
        // Transport 1.1 §6.3: POST on /O/I/R with no Content-Format or text/plain is Execute.
        (Some(_), Some(_)) if matches!(req.content_format, None | Some(0)) => {
            execute(store, path, &req.payload)
        }
        (Some(_), Some(_)) => write(store, path, req, true),
    }
}

/// Create (POST /O with a payload), Core 1.1 §5.4.4 / FACTS §4.1: the payload names the new
/// instance (an Object Instance TLV or SenML names) or the client picks the smallest free ID and
/// answers its Location-Path. Read-only values in the payload are ignored; missing Mandatory
/// resources, an existing ID, or a second instance of a single-instance object are 4.00, and
/// nothing is created on any error.
fn create(
    store: &mut Store,
    path: &Path,
    req: &Request,
    max_instances: usize,
) -> (Reply, Vec<Effect>) {
    let none = Vec::new;
    let def = match object_def(store, path) {
        Ok(d) => d.clone(),
        Err(r) => return (r, none()),
    };
    let format = match req.payload_format() {
        Ok(f) => f,
        Err(reply) => return (reply, none()),
    };
    // With an Object Instance TLV (or SenML names) the server chose the ID; otherwise the
    // payload holds only resources and the client picks one.
    // An empty payload names no instance either: the client picks the ID.
    let at_free_id = || -> Result<Instances, CodecError> {
        let iid = store
            .free_instance_id(def.id)
            .ok_or(CodecError::Malformed("no free instance ID".into()))?;
        codec::decode(format, &Path::instance(def.id, iid), &req.payload, store)
    };
    let decoded = match codec::decode(format, path, &req.payload, store) {
        Ok(d) if d.is_empty() => at_free_id(),
        Ok(d) => Ok(d),
        Err(first) => at_free_id().map_err(|_| first),
    };
    let mut decoded = match decoded {
        Ok(d) => d,
        Err(CodecError::Unsupported) => {
            return (
                Reply::error(
                    msg::UNSUPPORTED_CONTENT_FORMAT,
                    format!("format {}", format.code()),
                ),
                none(),
            )
        }
        Err(e) => return (Reply::error(msg::BAD_REQUEST, e), none()),
    };
    let (iid, mut resources) = match (decoded.len(), decoded.pop_first()) {
        (1, Some(one)) => one,
        _ => {
            return (
                Reply::error(msg::BAD_REQUEST, "Create carries exactly one instance"),
                none(),
            )
        }
    };
    if store.has_instance(def.id, iid) {
        return (
            Reply::error(
                msg::BAD_REQUEST,
                format!("{} exists", Path::instance(def.id, iid)),
            ),
            none(),
        );
    }
    if !def.multiple && !store.instance_ids(def.id).is_empty() {
        return (
            Reply::error(
                msg::BAD_REQUEST,
                format!("object {} is single-instance", def.id),
            ),
            none(),
        );
    }
    // A bound on what a server can make the device hold (and rewrite to flash on every Create).
    if store.instance_ids(def.id).len() >= max_instances {
        return (
            Reply::error(
                msg::INTERNAL_SERVER_ERROR,
                format!(
                    "object {} holds its maximum of {max_instances} instances",
                    def.id
                ),
            ),
            none(),
        );
    }
    resources.retain(|rid, _| def.resource(*rid).is_some_and(|r| r.operations.writable()));
    let missing: Vec<String> = def
        .resources
        .iter()
        .filter(|r| r.mandatory && r.operations.writable() && !resources.contains_key(&r.id))
        .map(|r| format!("{}", r.id))
        .collect();
    if !missing.is_empty() {
        return (
            Reply::error(
                msg::BAD_REQUEST,
                format!("mandatory resources missing: {}", missing.join(", ")),
            ),
            none(),
        );
    }
    if let Err(e) = store.create_instance(def.id, iid, resources) {
        return (Reply::error(msg::BAD_REQUEST, e), none());
    }
    let mut reply = Reply::code(msg::CREATED);
    reply.location = alloc::vec![format!("{}", def.id), format!("{iid}")];
    (
        reply,
        alloc::vec![Effect::Created {
            path: Path::instance(def.id, iid)
        }],
    )
}

/// Delete (DELETE /O/I), Core 1.1 §5.4.6: the Device instance "SHALL NOT be affected" (4.05);
/// only instances can be deleted by a server (4.05 otherwise).
fn delete(store: &mut Store, path: &Path) -> (Reply, Vec<Effect>) {
    let none = Vec::new;
    let (Some(o), Some(i), None) = (path.object_id(), path.instance_id(), path.resource_id())
    else {
        return (
            Reply::error(msg::METHOD_NOT_ALLOWED, "Delete targets /O/I"),
            none(),
        );
    };
    if o == oid::DEVICE {
        return (
            Reply::error(
                msg::METHOD_NOT_ALLOWED,
                "the Device instance cannot be deleted",
            ),
            none(),
        );
    }
    if let Err(r) = object_def(store, path) {
        return (r, none());
    }
    if !store.remove_instance(o, i) {
        return (
            Reply::error(msg::NOT_FOUND, format!("{path} not found")),
            none(),
        );
    }
    (
        Reply::code(msg::DELETED),
        alloc::vec![Effect::Deleted { path: *path }],
    )
}

fn execute(store: &Store, path: &Path, args: &[u8]) -> (Reply, Vec<Effect>) {
    let none = Vec::new;
    if path.resource_instance_id().is_some() {
        return (
            Reply::error(msg::METHOD_NOT_ALLOWED, "Execute targets a resource"),
            none(),
        );
    }
    let (def, rdef) = match target(store, path) {
        Ok(t) => t,
        Err(r) => return (r, none()),
    };
    let Some(rd) = rdef else {
        return (Reply::code(msg::METHOD_NOT_ALLOWED), none());
    };
    if !rd.operations.executable() {
        return (
            Reply::error(msg::METHOD_NOT_ALLOWED, format!("{path} is not executable")),
            none(),
        );
    }
    if parse_execute_args(args).is_none() {
        return (
            Reply::error(msg::BAD_REQUEST, "Execute arguments not understood"),
            none(),
        );
    }
    let effect = match (def.id, path.resource_id()) {
        (oid::SERVER, Some(crate::accounts::srv::UPDATE_TRIGGER)) => {
            let iid = path.instance_id().unwrap_or_default();
            match crate::accounts::server_accounts(store)
                .iter()
                .find(|a| a.server_iid == iid)
            {
                Some(a) => Effect::UpdateTrigger { ssid: a.ssid },
                None => {
                    return (
                        Reply::error(msg::NOT_FOUND, "no account for this Server instance"),
                        none(),
                    )
                }
            }
        }
        (oid::SERVER, Some(crate::accounts::srv::BOOTSTRAP_TRIGGER)) => Effect::BootstrapTrigger,
        _ => Effect::Executed {
            path: *path,
            args: args.to_vec(),
        },
    };
    (Reply::code(msg::CHANGED), alloc::vec![effect])
}

/// Execute arguments, Core 1.1 §5.4.5: `arg *("," arg)`, `arg = DIGIT ["=" "'" *CHAR "'"]`.
/// Parsed leniently about blanks around separators, as the TS's own examples contain them.
pub fn parse_execute_args(payload: &[u8]) -> Option<Vec<(u8, Option<String>)>> {
    let text = core::str::from_utf8(payload).ok()?;
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let mut chars = rest.chars();
        let digit = chars.next().filter(char::is_ascii_digit)?;
        rest = chars.as_str().trim_start();
        let mut value = None;
        if let Some(after_eq) = rest.strip_prefix('=') {
            let quoted = after_eq.trim_start().strip_prefix('\'')?;
            let end = quoted.find('\'')?;
            value = Some(String::from(quoted.get(..end)?));
            rest = quoted.get(end + 1..)?.trim_start();
        }
        out.push((digit as u8 - b'0', value));
        match rest.strip_prefix(',') {
            Some(r) => rest = r.trim_start(),
            None if rest.is_empty() => break,
            None => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::parse_execute_args;

    #[test]
    fn execute_args_follow_the_abnf_leniently() {
        assert_eq!(parse_execute_args(b""), Some(alloc::vec![]));
        assert_eq!(parse_execute_args(b"5"), Some(alloc::vec![(5, None)]));
        assert_eq!(
            parse_execute_args(b"2='10.3'"),
            Some(alloc::vec![(2, Some("10.3".into()))])
        );
        assert_eq!(
            parse_execute_args(b"7, 0=' <https://www.omaspecworks.org>'"),
            Some(alloc::vec![
                (7, None),
                (0, Some(" <https://www.omaspecworks.org>".into()))
            ])
        );
        assert_eq!(parse_execute_args(b"0,1,2,3,4").map(|v| v.len()), Some(5));
        for bad in [&b"x"[..], b"1=", b"1='abc", b"12", b"1,,2", b"\xff"] {
            assert_eq!(parse_execute_args(bad), None, "{:?}", bad);
        }
    }
}
