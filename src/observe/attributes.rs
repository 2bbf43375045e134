//! `<NOTIFICATION>` attributes: parsing Write-Attributes, storing them per server and level,
//! and resolving the attributes that apply to an observation (FACTS §5.1; Core 1.2
//! "Attributes Definitions and Rules"; Transport 1.2 "Write-Attributes").
//!
//! Attributes are attached by one LwM2M Server (by its Short Server ID) to one level of the
//! tree: an object `/O`, an instance `/O/I`, a resource `/O/I/R` or (1.1) a resource instance
//! `/O/I/R/RI`. A lower level prevails over a higher one, attribute by attribute
//! ([`AttributeStore::effective`]).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::coap::msg;
use crate::path::Path;
use crate::value::ResourceType;

/// The `<NOTIFICATION>` attributes at one level, or the effective ones for an observation.
/// `None` means "not set". Periods are in seconds; thresholds are in the resource's unit.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Attributes {
    /// Minimum Period (`pmin`): the least time between two notifications.
    pub pmin: Option<u32>,
    /// Maximum Period (`pmax`): a notification is sent at the latest after this time; 0, or a
    /// value below `pmin`, is ignored (FACTS §5.1).
    pub pmax: Option<u32>,
    /// Minimum Evaluation Period (`epmin`, LwM2M 1.1): the value is not evaluated more often.
    pub epmin: Option<u32>,
    /// Maximum Evaluation Period (`epmax`, LwM2M 1.1): the value is evaluated at least this often.
    pub epmax: Option<u32>,
    /// Greater Than (`gt`): the high threshold.
    pub gt: Option<f64>,
    /// Less Than (`lt`): the low threshold.
    pub lt: Option<f64>,
    /// Step (`st`): the least change from the last notified value; never negative.
    pub st: Option<f64>,
}

impl Attributes {
    /// True when no attribute is set.
    pub(crate) fn is_empty(&self) -> bool {
        *self == Attributes::default()
    }

    /// True when one of the value conditions `gt`, `lt`, `st` is set (they change what counts
    /// as a change worth notifying, see `condition`).
    pub(crate) fn has_value_conditions(&self) -> bool {
        self.gt.is_some() || self.lt.is_some() || self.st.is_some()
    }
}

/// What one Write-Attributes does to one attribute at the addressed level.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) enum Edit<T> {
    /// The attribute is not in the query: it keeps its current value.
    #[default]
    Unchanged,
    /// `name=value`: the attribute takes this value.
    Set(T),
    /// `name` without a value: the attribute is removed at this level (Transport 1.2
    /// Write-Attributes example 2, `PUT /3/0/9?pmin`).
    Unset,
}

impl<T: Copy> Edit<T> {
    /// The attribute after this edit, given its current value.
    pub(crate) fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Edit::Unchanged => current,
            Edit::Set(v) => Some(v),
            Edit::Unset => None,
        }
    }

    /// True unless the query left the attribute alone.
    pub(crate) fn is_mentioned(&self) -> bool {
        !matches!(self, Edit::Unchanged)
    }
}

/// A parsed Write-Attributes query ([`parse_query`]): one [`Edit`] per attribute.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct AttributeWrite {
    /// `pmin`.
    pub pmin: Edit<u32>,
    /// `pmax`.
    pub pmax: Edit<u32>,
    /// `epmin`.
    pub epmin: Edit<u32>,
    /// `epmax`.
    pub epmax: Edit<u32>,
    /// `gt`.
    pub gt: Edit<f64>,
    /// `lt`.
    pub lt: Edit<f64>,
    /// `st`.
    pub st: Edit<f64>,
}

impl AttributeWrite {
    /// The attributes of a level after this write, given what the level holds now.
    pub(crate) fn merge(&self, current: &Attributes) -> Attributes {
        Attributes {
            pmin: self.pmin.apply(current.pmin),
            pmax: self.pmax.apply(current.pmax),
            epmin: self.epmin.apply(current.epmin),
            epmax: self.epmax.apply(current.epmax),
            gt: self.gt.apply(current.gt),
            lt: self.lt.apply(current.lt),
            st: self.st.apply(current.st),
        }
    }

    /// True when the query names `gt`, `lt` or `st`, set or unset.
    pub(crate) fn mentions_value_conditions(&self) -> bool {
        self.gt.is_mentioned() || self.lt.is_mentioned() || self.st.is_mentioned()
    }
}

/// Why a Write-Attributes was refused. Every case is the peer's fault and answered 4.00
/// ([`AttrError::code`]); the `Display` text is the reason, fit for a diagnostic payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AttrError {
    /// No query parameter at all: that is a Write (Replace), not a Write-Attributes.
    #[error("Write-Attributes carries no attribute")]
    Empty,
    /// A parameter that is not a `<NOTIFICATION>` attribute this client knows (this includes
    /// the LwM2M 1.2 attributes `edge`, `con`, `hqmax`).
    #[error("unknown attribute {0:?}")]
    Unknown(String),
    /// A `<PROPERTIES>` parameter (`dim`, `ssid`, `uri`, `ver`, `lwm2m`): read-only, shown by
    /// Discover only (FACTS §5.1).
    #[error("{0} is a read-only property, not a writable attribute")]
    ReadOnly(String),
    /// The same attribute twice in one query.
    #[error("attribute {0} given more than once")]
    Duplicate(&'static str),
    /// A value outside the attribute's syntax (`pmin=1*DIGIT` fitting 32 bits; `gt`/`lt`
    /// `["-"] 1*DIGIT ["." 1*DIGIT]`; `st` the same without sign).
    #[error("attribute {name} has an invalid value {value:?}")]
    BadValue {
        /// The attribute.
        name: &'static str,
        /// The value as received (cut to a few characters).
        value: String,
    },
    /// `gt`, `lt` or `st` on an object or instance, or on a resource whose type is not numeric
    /// (FACTS §5.1: they attach to numeric R and RI levels only).
    #[error("gt, lt and st apply only to numeric resources and resource instances")]
    NotNumeric,
    /// `lt` is not below `gt` (Core 1.2 `<NOTIFICATION>` rules: a write breaking this MUST be
    /// rejected).
    #[error("lt must be less than gt")]
    LtNotBelowGt,
    /// `lt + 2*st` is not below `gt` (same rule).
    #[error("lt + 2*st must be less than gt")]
    StepTooLarge,
    /// The path names no object: attributes attach to `/O` and below.
    #[error("attributes attach to an object, instance, resource or resource instance")]
    NoObject,
    /// The store holds its maximum number of levels; nothing was added.
    #[error("attribute store is full ({0} levels with attributes)")]
    Full(usize),
}

impl AttrError {
    /// The CoAP response code: 4.00 Bad Request for every case (FACTS §4.1, Write-Attributes:
    /// "4.00 bad attribute/inconsistent set"; the store limit has no code of its own).
    pub(crate) fn code(&self) -> u8 {
        msg::BAD_REQUEST
    }
}

/// Keeps at most this many characters of a peer's text in an error, so a long query cannot make
/// a long diagnostic.
const ECHO_CHARS: usize = 24;

fn echo(s: &str) -> String {
    s.chars().take(ECHO_CHARS).collect()
}

/// Parses the Uri-Query parameters of a Write-Attributes (each `name=value` or `name`). Names
/// are case-sensitive as CoAP options are. The whole query is refused on the first error.
pub(crate) fn parse_query(queries: &[String]) -> Result<AttributeWrite, AttrError> {
    if queries.is_empty() {
        return Err(AttrError::Empty);
    }
    let mut w = AttributeWrite::default();
    for q in queries {
        let (name, value) = match q.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (q.as_str(), None),
        };
        match name {
            "pmin" => edit(&mut w.pmin, "pmin", value, parse_seconds)?,
            "pmax" => edit(&mut w.pmax, "pmax", value, parse_seconds)?,
            "epmin" => edit(&mut w.epmin, "epmin", value, parse_seconds)?,
            "epmax" => edit(&mut w.epmax, "epmax", value, parse_seconds)?,
            "gt" => edit(&mut w.gt, "gt", value, |v| parse_decimal(v, true))?,
            "lt" => edit(&mut w.lt, "lt", value, |v| parse_decimal(v, true))?,
            // A negative step makes no sense (|Δ| >= st always holds); the ABNF has no sign.
            "st" => edit(&mut w.st, "st", value, |v| parse_decimal(v, false))?,
            "dim" | "ssid" | "uri" | "ver" | "lwm2m" => {
                return Err(AttrError::ReadOnly(name.to_string()))
            }
            _ => return Err(AttrError::Unknown(echo(name))),
        }
    }
    Ok(w)
}

fn edit<T>(
    slot: &mut Edit<T>,
    name: &'static str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<(), AttrError> {
    if !matches!(slot, Edit::Unchanged) {
        return Err(AttrError::Duplicate(name));
    }
    *slot = match value {
        None => Edit::Unset,
        Some(v) => Edit::Set(parse(v).ok_or_else(|| AttrError::BadValue {
            name,
            value: echo(v),
        })?),
    };
    Ok(())
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `1*DIGIT` fitting a u32. Checked by hand first because `str::parse` accepts a leading `+`.
fn parse_seconds(v: &str) -> Option<u32> {
    if !all_digits(v) {
        return None;
    }
    v.parse().ok()
}

/// `["-"] 1*DIGIT ["." 1*DIGIT]` (the sign only when `signed`). This is the FACTS §5.1 syntax
/// plus the sign thresholds need for negative quantities (a temperature); it is what Leshan
/// sends. No exponent, no `inf`/`NaN`, no `.5` or `5.`; a number too large for f64 is refused
/// rather than turned into infinity.
fn parse_decimal(v: &str, signed: bool) -> Option<f64> {
    let unsigned = if signed {
        v.strip_prefix('-').unwrap_or(v)
    } else {
        v
    };
    let ok = match unsigned.split_once('.') {
        Some((int, frac)) => all_digits(int) && all_digits(frac),
        None => all_digits(unsigned),
    };
    if !ok {
        return None;
    }
    v.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// True for the resource types `gt`, `lt` and `st` may apply to (Core 1.2: "numerical"
/// resources): Integer, Unsigned Integer, Float and Time.
pub(crate) fn is_numeric_type(t: ResourceType) -> bool {
    matches!(
        t,
        ResourceType::Integer
            | ResourceType::UnsignedInteger
            | ResourceType::Float
            | ResourceType::Time
    )
}

/// The attributes every LwM2M Server attached, per (Short Server ID, level), bounded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttributeStore {
    levels: BTreeMap<(u16, Path), Attributes>,
    max_entries: usize,
}

impl AttributeStore {
    /// An empty store holding at most `max_entries` levels (over all servers): a server could
    /// otherwise grow it without bound, one Write-Attributes per path (DESIGN.md §7).
    pub(crate) fn new(max_entries: usize) -> AttributeStore {
        AttributeStore {
            levels: BTreeMap::new(),
            max_entries,
        }
    }

    #[cfg(test)]
    /// The number of levels that hold attributes.
    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }

    #[cfg(test)]
    /// True when no server attached anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Applies one Write-Attributes from server `ssid` to `path`. `numeric` tells whether the
    /// resource at `path` has a numeric type ([`is_numeric_type`]); it is only looked at for
    /// resource and resource-instance paths.
    ///
    /// The write is merged into what the level holds, the result is checked, and only then
    /// stored: on error nothing changes (DESIGN.md §3). A level left with no attribute is
    /// removed.
    pub(crate) fn apply(
        &mut self,
        ssid: u16,
        path: &Path,
        write: &AttributeWrite,
        numeric: bool,
    ) -> Result<(), AttrError> {
        if path.object_id().is_none() {
            return Err(AttrError::NoObject);
        }
        // Naming gt/lt/st where they cannot apply is refused even as an unset: the server asked
        // for something meaningless at that level (FACTS §5.1 attach levels).
        let value_level = path.resource_id().is_some() && numeric;
        if write.mentions_value_conditions() && !value_level {
            return Err(AttrError::NotNumeric);
        }
        let key = (ssid, *path);
        let merged = write.merge(&self.levels.get(&key).copied().unwrap_or_default());
        check_consistency(&merged)?;
        if merged.is_empty() {
            self.levels.remove(&key);
            return Ok(());
        }
        if !self.levels.contains_key(&key) && self.levels.len() >= self.max_entries {
            return Err(AttrError::Full(self.max_entries));
        }
        self.levels.insert(key, merged);
        Ok(())
    }

    /// Exactly what server `ssid` attached at `path` (nothing inherited): what Discover shows
    /// for a level. To show inherited values too (the Core 1.2 Discover example
    /// `</3/0>;pmin=10;pmax=60`), use [`AttributeStore::effective`] without defaults.
    pub(crate) fn attached(&self, ssid: u16, path: &Path) -> Attributes {
        self.levels.get(&(ssid, *path)).copied().unwrap_or_default()
    }

    /// The attributes that govern an observation by server `ssid` on `path` (Core 1.2
    /// "Attributes Definitions and Rules", rules 1–5): each attribute comes from the deepest
    /// level at or above `path` that sets it (RI over R over OI over O). `gt`, `lt`, `st` come
    /// only from R and RI levels. `pmin` and `pmax` not set anywhere fall back to the server's
    /// Default Minimum / Maximum Period (`/1/x/2`, `/1/x/3`), passed in by the caller since this
    /// store does not read objects.
    pub(crate) fn effective(
        &self,
        ssid: u16,
        path: &Path,
        default_pmin: Option<u32>,
        default_pmax: Option<u32>,
    ) -> Attributes {
        let mut out = Attributes::default();
        let mut level = Path::ROOT;
        // No server wrote attributes (the common case): no level to look up.
        let ids = if self.levels.is_empty() {
            &[][..]
        } else {
            path.ids()
        };
        for &id in ids {
            level = match level.child(id) {
                Some(p) => p,
                None => break,
            };
            let Some(a) = self.levels.get(&(ssid, level)) else {
                continue;
            };
            out.pmin = a.pmin.or(out.pmin);
            out.pmax = a.pmax.or(out.pmax);
            out.epmin = a.epmin.or(out.epmin);
            out.epmax = a.epmax.or(out.epmax);
            if level.resource_id().is_some() {
                out.gt = a.gt.or(out.gt);
                out.lt = a.lt.or(out.lt);
                out.st = a.st.or(out.st);
            }
        }
        out.pmin = out.pmin.or(default_pmin);
        out.pmax = out.pmax.or(default_pmax);
        out
    }

    #[cfg(test)]
    /// Every level server `ssid` attached attributes to, in path order.
    pub(crate) fn levels(&self, ssid: u16) -> impl Iterator<Item = (&Path, &Attributes)> + '_ {
        self.levels
            .range((ssid, Path::ROOT)..)
            .take_while(move |((s, _), _)| *s == ssid)
            .map(|((_, p), a)| (p, a))
    }

    /// Drops everything server `ssid` attached (its account was removed). Whether a new
    /// Register also clears them is the caller's policy; this store does not know about
    /// registrations.
    pub(crate) fn forget_server(&mut self, ssid: u16) {
        self.levels.retain(|(s, _), _| *s != ssid);
    }

    /// Drops the levels at `path` and below it, for every server: the instance or resource
    /// instance there was deleted, and one created later with the same ID starts clean.
    pub(crate) fn forget_below(&mut self, path: &Path) {
        self.levels.retain(|(_, p), _| !path.contains(p));
    }

    /// Drops the levels of instance `/oid/iid` and below (the instance was deleted).
    pub(crate) fn forget_instance(&mut self, oid: u16, iid: u16) {
        self.forget_below(&Path::instance(oid, iid));
    }
}

/// The consistency rules of Core 1.2 `<NOTIFICATION>`: `lt < gt` when both are set and
/// `lt + 2*st < gt` when all three are. Compared with `partial_cmp` so that a NaN, which parsing
/// never produces but a caller could, is refused too.
fn check_consistency(a: &Attributes) -> Result<(), AttrError> {
    if let (Some(lt), Some(gt)) = (a.lt, a.gt) {
        if !below(lt, gt) {
            return Err(AttrError::LtNotBelowGt);
        }
        if let Some(st) = a.st {
            if !below(lt + 2.0 * st, gt) {
                return Err(AttrError::StepTooLarge);
            }
        }
    }
    Ok(())
}

fn below(a: f64, b: f64) -> bool {
    a.partial_cmp(&b) == Some(Ordering::Less)
}

/// The attributes as CoRE link parameters for Discover, in the fixed order `pmin`, `pmax`, `gt`,
/// `lt`, `st`, `epmin`, `epmax` (the order of the Core 1.2 attribute table, epmin/epmax last as
/// 1.1 additions); unset attributes are left out.
///
/// Numbers are written in the syntax `parse_query` accepts, so a server can write back what it
/// discovered: integers as decimal digits, floats as Rust's shortest round-trip decimal without
/// exponent, an integral float without `.0` (`gt=45` → `"45"`, `st=0.5` → `"0.5"`, `-0` →
/// `"0"`). A non-finite float (which parsing never stores) has no such form and is left out.
pub(crate) fn link_params(a: &Attributes) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut int = |name: &str, v: Option<u32>| {
        if let Some(v) = v {
            out.push((name.to_string(), v.to_string()));
        }
    };
    int("pmin", a.pmin);
    int("pmax", a.pmax);
    for (name, v) in [("gt", a.gt), ("lt", a.lt), ("st", a.st)] {
        if let Some(text) = v.and_then(format_decimal) {
            out.push((name.to_string(), text));
        }
    }
    for (name, v) in [("epmin", a.epmin), ("epmax", a.epmax)] {
        if let Some(v) = v {
            out.push((name.to_string(), v.to_string()));
        }
    }
    out
}

/// `Display` for f64 never uses an exponent and prints the shortest text that reads back to the
/// same value; only -0 needs help (the sign carries no meaning for a threshold).
fn format_decimal(x: f64) -> Option<String> {
    if !x.is_finite() {
        None
    } else if x == 0.0 {
        Some("0".to_string())
    } else {
        Some(format!("{x}"))
    }
}

#[cfg(test)]
mod tests;
