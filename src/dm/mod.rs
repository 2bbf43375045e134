//! Device Management and Service Enablement interface (Core 1.1 §6.3): Read, Discover, Write,
//! Create, Delete, Execute, as a registered LwM2M Server sees them.
//!
//! Handlers work on the request's `DataModel` (the staged store and the application's
//! objects): they check the request against the object definitions first, then call the data
//! model per operation, and return the reply and the effects the client must act on (an event
//! for the application, a registration Update, a bootstrap).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::access::{Access, Denied, Operation};
use crate::accounts::srv;
use crate::coap::msg;
use crate::codec::ContentFormat;
use crate::data_model::{DataModel, Executed};
use crate::model::{oid, ObjectDef, ResourceDef};
use crate::observe::attributes::{link_params, AttributeStore};
use crate::path::Path;
use crate::request::{Reply, Request};

mod attributes;
mod composite;
mod read;
mod write;

pub(crate) use composite::requested_paths;
pub(crate) use read::read_values;

/// What a handled request asks the client to do besides replying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// A store-held resource was executed (the application learns of it by an event).
    Executed {
        /// The executed resource.
        path: Path,
        /// The Execute arguments as received (Core 1.1 §5.4.5).
        args: Vec<u8>,
    },
    /// A value was written.
    Written {
        /// The target of the Write.
        path: Path,
    },
    /// An instance was created (`/O/I`).
    Created {
        /// The new instance.
        path: Path,
    },
    /// An instance was deleted (`/O/I`).
    Deleted {
        /// The deleted instance.
        path: Path,
    },
    /// `/1/x/8` Registration Update Trigger for the server with this SSID.
    UpdateTrigger {
        /// The server to send an Update to.
        ssid: u16,
    },
    /// `/1/x/9` Bootstrap-Request Trigger (Core 1.1 §5.2.3.4: start client-initiated bootstrap).
    BootstrapTrigger,
    /// Disable (`/1/x/4`) was executed on this server's instance.
    Disable {
        /// The server disabled.
        ssid: u16,
    },
    /// A registration parameter (lifetime, binding) of this server changed: send an Update.
    RegistrationParamsChanged {
        /// The server whose Server instance changed.
        ssid: u16,
    },
}

/// Per-request context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DmContext {
    /// The requesting server.
    pub ssid: u16,
    /// Format used when a Read of several values comes without Accept.
    pub default_format: ContentFormat,
    /// Most instances an object may hold (`Limits::max_instances`).
    pub max_instances: usize,
}

/// A reply and no effects.
fn only(reply: Reply) -> (Reply, Vec<Effect>) {
    (reply, Vec::new())
}

/// The reply for an error code an application object (or the data model) gave.
fn failed(code: u8) -> Reply {
    Reply::error(code, "the object refused the operation")
}

/// The operation a request asks for, by method, path and options (Transport 1.1 §6.3, §6.4;
/// FACTS §4.1 "Dispatching"); `None` for a method no DM operation uses.
fn operation(req: &Request, path: &Path) -> Option<Operation> {
    Some(match req.method {
        msg::GET if req.accept == Some(ContentFormat::LinkFormat.code()) => Operation::Discover,
        msg::GET => Operation::Read,
        // Transport 1.1 §6.4: Read-Composite (and Observe-Composite) is a FETCH on the root.
        msg::FETCH if *path == Path::ROOT => Operation::Read,
        // Transport 1.1 §6.4: Write-Attributes is a PUT carrying only a query.
        msg::PUT if !req.queries.is_empty() => Operation::WriteAttributes,
        msg::PUT => Operation::Write,
        msg::POST => match (path.instance_id(), path.resource_id()) {
            (None, _) => Operation::Create,
            // Transport 1.1 §6.3: POST on /O/I/R with no Content-Format or text/plain is
            // Execute; with a payload format it is a partial update, as on /O/I.
            (Some(_), Some(_)) if matches!(req.content_format, None | Some(0)) => {
                Operation::Execute
            }
            (Some(_), _) => Operation::Write,
        },
        msg::DELETE => Operation::Delete,
        _ => return None,
    })
}

/// Handles one DM request from a registered server.
pub(crate) fn handle(
    model: &mut DataModel<'_>,
    ctx: &DmContext,
    attrs: &mut AttributeStore,
    req: &Request,
) -> (Reply, Vec<Effect>) {
    let path = match req.path() {
        Ok(p) => p,
        Err(e) => return only(Reply::error(msg::NOT_FOUND, e)),
    };
    // Core 1.1 §6.3 (Security object): "MUST reject any LwM2M Server operation on the Security
    // Object (ID: 0)" with "not authorized"; the OSCORE object (21) is treated the same way.
    if matches!(path.object_id(), Some(oid::SECURITY) | Some(oid::OSCORE)) {
        return only(Reply::error(
            msg::UNAUTHORIZED,
            "security objects are not accessible",
        ));
    }
    let Some(op) = operation(req, &path) else {
        return only(Reply::code(msg::METHOD_NOT_ALLOWED));
    };
    // Core 1.1 §7.3: asked before anything is read or changed; see `access`.
    let access = Access::of(model.store(), ctx.ssid);
    if let Err(reply) = authorize(model, &access, op, &path) {
        return only(reply);
    }
    match op {
        Operation::Discover => {
            let attached = |p: &Path| link_params(&attrs.attached(ctx.ssid, p));
            only(read::discover(model, &path, &attached))
        }
        Operation::Read if req.method == msg::FETCH => {
            only(composite::read_composite(model, &access, req))
        }
        Operation::Read => only(read::read(model, ctx, &access, &path, req)),
        Operation::WriteAttributes => only(attributes::write_attributes(
            model, attrs, ctx.ssid, &path, req,
        )),
        Operation::Write => write::write(model, &access, &path, req, req.method == msg::POST),
        Operation::Execute => execute(model, &path, &req.payload),
        Operation::Create => write::create(model, &access, &path, req, ctx.max_instances),
        Operation::Delete => write::delete(model, &path),
    }
}

/// Access control for one request (Core 1.1 §7.3, `access`): a target that does not exist is
/// 4.04 first, then a refused operation 4.01. Nothing is asked of the data model when the
/// rules do not apply.
fn authorize(
    model: &mut DataModel<'_>,
    access: &Access,
    op: Operation,
    path: &Path,
) -> Result<(), Reply> {
    let Some(o) = path.object_id() else {
        return Ok(()); // the root: Read-Composite checks each path it names
    };
    if !access.enforced() {
        return Ok(());
    }
    let def = object_def(model, path)?;
    let i = match op {
        Operation::Create => None,
        _ => path.instance_id(),
    };
    if let Some(i) = i {
        if !model.has_instance(def.id, i).map_err(failed)? {
            return Err(Reply::error(msg::NOT_FOUND, format!("{path} not found")));
        }
    }
    access
        .check(model.store(), op, o, i)
        .map_err(|Denied(why)| Reply::error(msg::UNAUTHORIZED, why))
}

/// Looks up the object definition, answering 4.04 for unknown objects.
fn object_def(model: &DataModel<'_>, path: &Path) -> Result<ObjectDef, Reply> {
    let o = path
        .object_id()
        .ok_or_else(|| Reply::error(msg::METHOD_NOT_ALLOWED, "no object in path"))?;
    model
        .def(o)
        .cloned()
        .ok_or_else(|| Reply::error(msg::NOT_FOUND, format!("object {o} not supported")))
}

/// Checks that the instance exists and the resource (if any) is defined, returning the
/// definitions. Only the instance list is asked of an application object here.
fn target(
    model: &mut DataModel<'_>,
    path: &Path,
) -> Result<(ObjectDef, Option<ResourceDef>), Reply> {
    let def = object_def(model, path)?;
    let Some(i) = path.instance_id() else {
        return Ok((def, None));
    };
    if !model.has_instance(def.id, i).map_err(failed)? {
        return Err(Reply::error(msg::NOT_FOUND, format!("{path} not found")));
    }
    match path.resource_id() {
        None => Ok((def, None)),
        Some(r) => match def.resource(r).cloned() {
            Some(rd) => Ok((def, Some(rd))),
            None => Err(Reply::error(msg::NOT_FOUND, format!("{path} not found"))),
        },
    }
}

fn execute(model: &mut DataModel<'_>, path: &Path, args: &[u8]) -> (Reply, Vec<Effect>) {
    if path.resource_instance_id().is_some() {
        return only(Reply::error(
            msg::METHOD_NOT_ALLOWED,
            "Execute targets a resource",
        ));
    }
    let (def, rdef) = match target(model, path) {
        Ok(t) => t,
        Err(r) => return only(r),
    };
    let (Some(rd), Some(iid)) = (rdef, path.instance_id()) else {
        return only(Reply::code(msg::METHOD_NOT_ALLOWED));
    };
    if !rd.operations.executable() {
        return only(Reply::error(
            msg::METHOD_NOT_ALLOWED,
            format!("{path} is not executable"),
        ));
    }
    if parse_execute_args(args).is_none() {
        return only(Reply::error(
            msg::BAD_REQUEST,
            "Execute arguments not understood",
        ));
    }
    let effect = match (def.id, rd.id) {
        (oid::SERVER, rid @ (srv::UPDATE_TRIGGER | srv::DISABLE)) => {
            match crate::accounts::server_accounts(model.store())
                .iter()
                .find(|a| a.server_iid == iid)
            {
                Some(a) if rid == srv::DISABLE => Effect::Disable { ssid: a.ssid },
                Some(a) => Effect::UpdateTrigger { ssid: a.ssid },
                None => {
                    return only(Reply::error(
                        msg::NOT_FOUND,
                        "no account for this Server instance",
                    ))
                }
            }
        }
        (oid::SERVER, srv::BOOTSTRAP_TRIGGER) => Effect::BootstrapTrigger,
        _ => match model.execute(def.id, iid, rd.id, args) {
            Ok(Executed::ByApplication) => return only(Reply::code(msg::CHANGED)),
            Ok(Executed::ToReport) => Effect::Executed {
                path: *path,
                args: args.to_vec(),
            },
            Err(code) => return only(failed(code)),
        },
    };
    (Reply::code(msg::CHANGED), alloc::vec![effect])
}

/// Execute arguments, Core 1.1 §5.4.5: `arg *("," arg)`, `arg = DIGIT ["=" "'" *CHAR "'"]`.
/// Parsed leniently about blanks around separators, as the TS's own examples contain them.
pub(crate) fn parse_execute_args(payload: &[u8]) -> Option<Vec<(u8, Option<String>)>> {
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
