//! Write-Attributes (Core 1.1 §5.4.4; Transport 1.1 §6.4: PUT with only a query): the
//! `<NOTIFICATION>` attributes a server attaches to a level, kept per server.

use alloc::format;

use super::target;
use crate::coap::msg;
use crate::data_model::DataModel;
use crate::observe::attributes::{is_numeric_type, parse_query, AttributeStore};
use crate::path::Path;
use crate::request::{Reply, Request};

/// Attaches the attributes of `req`'s query to `path` for server `ssid`: 2.04, or 4.04 for a
/// level that does not exist, 4.00 for a query that is not valid (unknown or read-only
/// parameters, bad values, `gt`/`lt`/`st` where they do not apply, `lt >= gt`, `lt + 2*st >=
/// gt`), and then nothing changes.
pub(super) fn write_attributes(
    model: &mut DataModel<'_>,
    attrs: &mut AttributeStore,
    ssid: u16,
    path: &Path,
    req: &Request,
) -> Reply {
    let (_, rdef) = match target(model, path) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if req.content_format.is_some() || !req.payload.is_empty() {
        return Reply::error(msg::BAD_REQUEST, "Write-Attributes carries no payload");
    }
    let write = match parse_query(&req.queries) {
        Ok(w) => w,
        Err(e) => return Reply::error(e.code(), e),
    };
    let numeric = rdef.is_some_and(|r| is_numeric_type(r.kind));
    match attrs.apply(ssid, path, &write, numeric) {
        Ok(()) => Reply::code(msg::CHANGED),
        Err(e) => Reply::error(e.code(), format!("{path}: {e}")),
    }
}
