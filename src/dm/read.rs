//! Read and Discover (Core 1.1 §5.4.1, §5.4.2): what a server sees of the data model.

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{failed, target, DmContext};
use crate::access::Access;
use crate::coap::msg;
use crate::codec::link::LinkWriter;
use crate::codec::{self, CodecError, ContentFormat};
use crate::data_model::DataModel;
use crate::decimal::Decimal;
use crate::model::{ObjectDef, ResourceDef};
use crate::path::Path;
use crate::request::{Reply, Request};
use crate::value::{Instances, ResourceType, ResourceValue, Resources, VecMap};

/// What a Read of `path` returns, or the error it is answered with: 4.04 for what does not
/// exist or holds no value, 4.05 for a resource that is not readable. Security objects are the
/// caller's to refuse. Every instance is read: no server's access rights apply (the client's
/// own Send).
pub(crate) fn read_values(
    model: &mut DataModel<'_>,
    path: &Path,
) -> Result<(Instances, Option<ResourceDef>), Reply> {
    read_visible(model, path, None).map(|(content, rdef)| (owned(content), rdef))
}

/// What a Read carries: per instance, its readable resources, borrowed from the store where it
/// holds them (nothing copied), owned where an application object answered.
pub(super) type Content<'s> = VecMap<u16, Cow<'s, Resources>>;

/// The content as owned values, for what keeps it (Send, Read-Composite, notifications).
pub(super) fn owned(content: Content<'_>) -> Instances {
    content
        .into_iter()
        .map(|(iid, resources)| (iid, resources.into_owned()))
        .collect()
}

/// `read_values` as a server sees it: a Read of an object carries only the instances `access`
/// lets it read (Core 1.1 §7.3, see `access`); the target itself was authorized by the caller.
pub(super) fn read_visible<'s>(
    model: &'s mut DataModel<'_>,
    path: &Path,
    access: Option<&Access>,
) -> Result<(Content<'s>, Option<ResourceDef>), Reply> {
    let (def, rdef) = target(model, path)?;
    if let Some(rd) = &rdef {
        if !rd.operations.readable() {
            return Err(Reply::error(
                msg::METHOD_NOT_ALLOWED,
                format!("{path} is not readable"),
            ));
        }
    }
    match readable_content(model, &def, path, access) {
        Ok(Some(c)) => Ok((c, rdef)),
        Ok(None) => Err(Reply::error(msg::NOT_FOUND, format!("{path} has no value"))),
        Err(code) => Err(failed(code)),
    }
}

pub(super) fn read(
    model: &mut DataModel<'_>,
    ctx: &DmContext,
    access: &Access,
    path: &Path,
    req: &Request,
) -> Reply {
    if let Some(reply) = read_stored_value(model, path, req) {
        return reply;
    }
    read_content(model, ctx, access, path, req)
}

/// The usual Read of one resource: a single value the store holds, answered in text or opaque
/// straight from where it is, without building a content map (issue 15). `None` for anything
/// else, every error included, which the general path answers: both give the same replies
/// (`a_stored_value_is_read_as_the_general_path_reads_it`).
fn read_stored_value(model: &DataModel<'_>, path: &Path, req: &Request) -> Option<Reply> {
    let [o, i, r] = *path.ids() else {
        return None;
    };
    if !model.store_held(o) {
        return None;
    }
    let rd = model.def(o)?.resource(r)?;
    if !rd.operations.readable() || rd.multiple {
        return None;
    }
    let default = single_value_format(rd.kind);
    let format = req.answer_format(|_| true, default).ok()?;
    let ResourceValue::Single(value) = model.store().resource(o, i, r)? else {
        return None;
    };
    let bytes = match (format, value) {
        (ContentFormat::Text, v) => codec::text::format_value(v).ok()?.into_bytes(),
        (ContentFormat::Opaque, crate::value::Value::Opaque(b)) => b.clone(),
        _ => return None,
    };
    Some(Reply::content(format.code(), bytes))
}

/// Core 1.1 §7.1: the format the client picks for one value without Accept: plain text,
/// opaque for an Opaque resource.
fn single_value_format(kind: ResourceType) -> ContentFormat {
    match kind {
        ResourceType::Opaque => ContentFormat::Opaque,
        _ => ContentFormat::Text,
    }
}

/// Read in general: the content gathered (borrowed where the store holds it), then encoded.
fn read_content(
    model: &mut DataModel<'_>,
    ctx: &DmContext,
    access: &Access,
    path: &Path,
    req: &Request,
) -> Reply {
    let (content, rdef) = match read_visible(model, path, Some(access)) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let single_value =
        rdef.as_ref().is_some_and(|rd| !rd.multiple) || path.resource_instance_id().is_some();
    // Core 1.1 §7.1: without Accept the client picks; the configured multi-value format for
    // several values.
    let default = match (single_value, rdef) {
        (true, Some(rd)) => single_value_format(rd.kind),
        (true, None) => ContentFormat::Text,
        (false, _) => ctx.default_format,
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
/// or resource instance holds no value. Only the target is read of an application object; of
/// an object, only the instances `access` lets the server read.
fn readable_content<'s>(
    model: &'s mut DataModel<'_>,
    def: &ObjectDef,
    path: &Path,
    access: Option<&Access>,
) -> Result<Option<Content<'s>>, u8> {
    let mut out = Content::new();
    match (path.instance_id(), path.resource_id()) {
        (Some(i), None) if model.store_held(def.id) => {
            out.insert(i, DataModel::read_stored_instance(model.store(), def, i)?);
        }
        (None, None) if model.store_held(def.id) => {
            let store = model.store();
            for iid in store.instance_ids(def.id) {
                // Core 1.1 §7.3.2.4: an object-level Read carries the readable instances.
                if !access.is_none_or(|a| a.may_read(store, def.id, iid)) {
                    continue;
                }
                out.insert(iid, DataModel::read_stored_instance(store, def, iid)?);
            }
        }
        (None, _) => {
            for iid in model.instance_ids(def.id)? {
                if !access.is_none_or(|a| a.may_read(model.store(), def.id, iid)) {
                    continue;
                }
                out.insert(iid, Cow::Owned(model.read_instance(def.id, iid)?));
            }
        }
        (Some(i), None) => {
            out.insert(i, Cow::Owned(model.read_instance(def.id, i)?));
        }
        (Some(i), Some(r)) => {
            let Some(rv) = model.read(def.id, i, r)? else {
                return Ok(None);
            };
            let rv = match (rv, path.resource_instance_id()) {
                (rv, None) => rv,
                (ResourceValue::Multiple(m), Some(ri)) => match m.get(&ri) {
                    Some(v) => ResourceValue::Multiple([(ri, v.clone())].into_iter().collect()),
                    None => return Ok(None),
                },
                (ResourceValue::Single(_), Some(_)) => return Ok(None),
            };
            let mut res = Resources::new();
            res.insert(r, rv);
            out.insert(i, Cow::Owned(res));
        }
    }
    Ok(Some(out))
}

/// What Discover shows of one object: per instance, its resources with the number of
/// instances of each multiple resource (`dim`).
pub(super) type Listing = BTreeMap<u16, crate::object::PresentResources>;

/// Discover: only the instances it shows are asked what they hold, and nothing is read of an
/// application object that lists its resources.
pub(super) fn discover(model: &mut DataModel<'_>, path: &Path, attached: &Attached<'_>) -> Reply {
    let (def, _) = match target(model, path) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let shown = match path.instance_id() {
        Some(i) => alloc::vec![i],
        None => match model.instance_ids(def.id) {
            Ok(ids) => ids,
            Err(code) => return failed(code),
        },
    };
    let mut listing = Listing::new();
    for iid in shown {
        match model.present(def.id, iid) {
            Ok(present) => listing.insert(iid, present),
            Err(code) => return failed(code),
        };
    }
    discover_listing(&def, path, &listing, attached)
}

/// The Write-Attributes a server attached at a level, as link parameters.
pub(super) type Attached<'a> = dyn Fn(&Path) -> Vec<(String, String)> + 'a;

/// Discover (Core 1.1 §5.4.3) over what an object says it holds, without reading a value.
/// Every resource listed is shown, plus the object's executable resources (they hold no value
/// but are there to be executed: `</3/0/4>` appears in the spec's Discover /3 example). Each
/// link carries the attributes the server attached at its level (Core 1.1 §5.4.2).
fn discover_listing(
    def: &ObjectDef,
    path: &Path,
    listing: &Listing,
    attached: &Attached<'_>,
) -> Reply {
    if path.resource_instance_id().is_some() {
        return Reply::error(
            msg::METHOD_NOT_ALLOWED,
            "Discover targets /O, /O/I or /O/I/R",
        );
    }
    // Written straight into the text (`LinkWriter`), no `Link` per resource (issue 15).
    let level = |links: &mut LinkWriter, p: &Path| {
        links.target(p);
        for (name, value) in attached(p) {
            links.attr(&name, Some(&value));
        }
    };
    let resource = |links: &mut LinkWriter, iid: u16, rid: u16, dim: Option<usize>| {
        let p = Path::resource(def.id, iid, rid);
        links.target(&p);
        if let Some(n) = dim {
            let n = Decimal::of_unsigned(u64::try_from(n).unwrap_or(u64::MAX));
            links.attr("dim", Some(n.as_str()));
        }
        for (name, value) in attached(&p) {
            links.attr(&name, Some(&value));
        }
    };
    let resources = |links: &mut LinkWriter, iid: u16, present: &[(u16, Option<usize>)]| {
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
            resource(links, iid, rid, dim);
        }
    };
    let mut links = LinkWriter::with_capacity(128);
    match (path.instance_id(), path.resource_id()) {
        (None, _) => {
            let object = Path::object(def.id);
            links.target(&object);
            if let Some(v) = def.announced_version() {
                links.attr("ver", Some(v));
            }
            for (name, value) in attached(&object) {
                links.attr(&name, Some(&value));
            }
            for (iid, present) in listing {
                level(&mut links, &Path::instance(def.id, *iid));
                resources(&mut links, *iid, present);
            }
        }
        (Some(i), None) => {
            let Some(present) = listing.get(&i) else {
                return Reply::error(msg::NOT_FOUND, format!("{path} not found"));
            };
            level(&mut links, &Path::instance(def.id, i));
            resources(&mut links, i, present);
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
            resource(&mut links, i, r, dim);
        }
    }
    Reply::content(
        ContentFormat::LinkFormat.code(),
        links.finish().into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::factory;
    use crate::codec::ContentFormat;
    use crate::data_model::Handlers;
    use crate::model::{Operations, ResourceDef};
    use crate::store::Store;
    use crate::value::{ResourceType as T, Value};
    use alloc::borrow::Cow;
    use alloc::vec;

    /// Device values plus an object 9 with one resource of each type (and an unreadable one).
    fn store() -> Store {
        let mut s = Store::with_standard_objects();
        factory::add_device(&mut s, "ACME", "Model-1", "0001").unwrap();
        let kinds = [
            T::String,
            T::Integer,
            T::Float,
            T::Boolean,
            T::Opaque,
            T::Time,
            T::Objlnk,
        ];
        let mut resources: vec::Vec<ResourceDef> = kinds
            .iter()
            .enumerate()
            .map(|(id, k)| ResourceDef::new(id as u16, "r", *k, Operations::RW, false, false))
            .collect();
        resources.push(ResourceDef::new(
            7,
            "w",
            T::Integer,
            Operations::W,
            false,
            false,
        ));
        let def = crate::model::ObjectDef {
            id: 9,
            name: Cow::Borrowed("test"),
            version: Cow::Borrowed("1.0"),
            multiple: true,
            mandatory: false,
            resources: Cow::Owned(resources),
        };
        s.define(def, false);
        let values = [
            Value::String("héllo".into()),
            Value::Integer(-42),
            Value::Float(2.5),
            Value::Boolean(true),
            Value::Opaque(vec![0, 1, 0xFF]),
            Value::Time(1_700_000_000),
            Value::Objlnk(3, 0),
            Value::Integer(7),
        ];
        for (r, v) in values.into_iter().enumerate() {
            s.set(&Path::resource(9, 0, r as u16), v).unwrap();
        }
        s
    }

    #[test]
    fn a_stored_value_is_read_as_the_general_path_reads_it() {
        let mut store = store();
        let mut handlers = Handlers::new();
        let mut model = DataModel::new(&mut store, &mut handlers);
        let ctx = DmContext {
            ssid: 1,
            default_format: ContentFormat::Tlv,
            max_instances: 8,
        };
        let access = Access::of(model.store(), 1);
        let mut fast = 0;
        let paths = (0..=8)
            .map(|r| Path::resource(9, 0, r))
            .chain([0, 1, 2, 6, 9, 30].map(|r| Path::resource(3, 0, r)));
        for path in paths.chain([Path::resource(9, 1, 0), Path::instance(9, 0)]) {
            for accept in [
                None,
                Some(0),
                Some(42),
                Some(11542),
                Some(110),
                Some(40),
                Some(7),
            ] {
                let req = Request {
                    method: msg::GET,
                    path: Ok(path),
                    bs: false,
                    queries: vec![],
                    content_format: None,
                    accept,
                    observe: None,
                    payload: vec![],
                };
                let general = read_content(&mut model, &ctx, &access, &path, &req);
                if let Some(reply) = read_stored_value(&model, &path, &req) {
                    assert_eq!(reply, general, "{path} accept {accept:?}");
                    fast += 1;
                }
                assert_eq!(read(&mut model, &ctx, &access, &path, &req), general);
            }
        }
        // Without Accept and in text: the seven readable values of 9 and the three Device
        // strings; in opaque: /9/0/4. Everything else went the general way.
        assert_eq!(fast, 2 * (7 + 3) + 1);
    }
}
