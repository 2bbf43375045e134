//! Read-Composite (Core 1.1 §5.4.1.1; Transport 1.1 §6.4: `FETCH` on `/` with a SenML pack
//! naming the paths, answered with one SenML pack of their values).

use alloc::vec::Vec;

use super::read::read_visible;
use crate::access::{Access, Denied, Operation};
use crate::coap::msg;
use crate::codec::{self, CodecError, ContentFormat};
use crate::data_model::DataModel;
use crate::model::oid;
use crate::path::Path;
use crate::request::{Reply, Request};
use crate::value::Instances;

fn senml(f: ContentFormat) -> bool {
    matches!(f, ContentFormat::SenmlJson | ContentFormat::SenmlCbor)
}

/// The paths a composite request names: 4.15 for a format that cannot name them (only the
/// SenML formats can), 4.00 for a malformed or empty list.
pub(crate) fn requested_paths(req: &Request) -> Result<(Vec<Path>, ContentFormat), Reply> {
    let format = req.payload_format()?;
    match codec::decode_paths(format, &req.payload) {
        Ok(paths) => Ok((paths, format)),
        Err(CodecError::Unsupported) => Err(Reply::error(
            msg::UNSUPPORTED_CONTENT_FORMAT,
            alloc::format!("format {} cannot name paths", format.code()),
        )),
        Err(e) => Err(Reply::error(msg::BAD_REQUEST, e)),
    }
}

/// The values at `paths`, in order. A path that does not exist or holds nothing readable is
/// left out (the answer carries what there is); a Security or OSCORE path refuses the whole
/// request (4.01, Core 1.1 §6.3), as does an object that fails to answer, and a path the
/// server may not Read (4.01, Core 1.1 §7.3: each path is a Read; an object path carries the
/// instances it may read, as a Read of `/O` does).
fn composite_values(
    model: &mut DataModel<'_>,
    access: &Access,
    paths: &[Path],
) -> Result<Vec<(Path, Instances)>, Reply> {
    let mut items = Vec::with_capacity(paths.len());
    for path in paths {
        if matches!(path.object_id(), Some(oid::SECURITY) | Some(oid::OSCORE)) {
            return Err(Reply::error(
                msg::UNAUTHORIZED,
                "security objects are not accessible",
            ));
        }
        if let (true, Some(o), Some(i)) = (access.enforced(), path.object_id(), path.instance_id())
        {
            // Only an existing instance is refused: one that is not there is left out.
            if model.has_instance(o, i).unwrap_or(false) {
                if let Err(Denied(why)) = access.check(model.store(), Operation::Read, o, Some(i)) {
                    return Err(Reply::error(msg::UNAUTHORIZED, why));
                }
            }
        }
        match read_visible(model, path, Some(access)) {
            Ok((content, _)) => items.push((*path, super::read::owned(content))),
            Err(r) if matches!(r.code, msg::NOT_FOUND | msg::METHOD_NOT_ALLOWED) => {}
            Err(r) => return Err(r),
        }
    }
    Ok(items)
}

/// Read-Composite: answered in the Accept format if it is SenML (4.06 otherwise), else in the
/// request's own format.
pub(super) fn read_composite(model: &mut DataModel<'_>, access: &Access, req: &Request) -> Reply {
    let (paths, format) = match requested_paths(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let answer = match req.answer_format(senml, format) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let items = match composite_values(model, access, &paths) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match codec::encode_composite(answer, &items) {
        Ok(bytes) => Reply::content(answer.code(), bytes),
        Err(e) => Reply::error(msg::INTERNAL_SERVER_ERROR, e),
    }
}
