//! LwM2M paths: `/O`, `/O/I`, `/O/I/R`, `/O/I/R/RI`, and the root `/`.

use core::fmt;

/// IDs 65535 are reserved in every position (Core 1.1 §7.1: "MAX_ID 65535 is a reserved value").
pub const MAX_ID: u16 = 65535;

/// A path into the object tree. Each level is present only if the level above it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Path {
    ids: [u16; 4],
    len: u8,
}

/// Why a path could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// More than four segments (object, instance, resource, resource instance).
    #[error("path has more than four segments")]
    TooLong,
    /// A segment that is not a decimal ID in 0..=65534; carries the segment as received.
    #[error("path segment {0:?} is not an ID in 0..65534")]
    BadSegment(String),
}

impl Path {
    /// The root `/`.
    pub const ROOT: Path = Path {
        ids: [0; 4],
        len: 0,
    };

    /// The object path `/o`.
    pub const fn object(o: u16) -> Path {
        Path {
            ids: [o, 0, 0, 0],
            len: 1,
        }
    }
    /// The object instance path `/o/i`.
    pub const fn instance(o: u16, i: u16) -> Path {
        Path {
            ids: [o, i, 0, 0],
            len: 2,
        }
    }
    /// The resource path `/o/i/r`.
    pub const fn resource(o: u16, i: u16, r: u16) -> Path {
        Path {
            ids: [o, i, r, 0],
            len: 3,
        }
    }
    /// The resource instance path `/o/i/r/ri`.
    pub const fn resource_instance(o: u16, i: u16, r: u16, ri: u16) -> Path {
        Path {
            ids: [o, i, r, ri],
            len: 4,
        }
    }

    /// Builds a path from Uri-Path segments (as CoAP delivers them). Empty segments are
    /// skipped so that `/3/0/` and `3/0` mean the same thing.
    pub fn from_segments<'a, I>(segments: I) -> Result<Path, PathError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut p = Path::ROOT;
        for seg in segments {
            p = p.with_segment(seg)?;
        }
        Ok(p)
    }

    /// This path with one more segment as a URI carries it: an empty one (a trailing `/`) is
    /// skipped, anything else must be an ID.
    pub(crate) fn with_segment(self, seg: &str) -> Result<Path, PathError> {
        if seg.is_empty() {
            return Ok(self);
        }
        let id = parse_id(seg)?;
        self.child(id).ok_or(PathError::TooLong)
    }

    /// Number of levels: 0 for `/`, 4 for a resource instance.
    pub const fn depth(&self) -> usize {
        self.len as usize
    }
    /// Whether this is the root `/`.
    pub const fn is_root(&self) -> bool {
        self.len == 0
    }
    /// The object ID, `None` at the root.
    pub fn object_id(&self) -> Option<u16> {
        self.level(0)
    }
    /// The object instance ID, `None` above instance level.
    pub fn instance_id(&self) -> Option<u16> {
        self.level(1)
    }
    /// The resource ID, `None` above resource level.
    pub fn resource_id(&self) -> Option<u16> {
        self.level(2)
    }
    /// The resource instance ID, `None` above resource instance level.
    pub fn resource_instance_id(&self) -> Option<u16> {
        self.level(3)
    }
    fn level(&self, n: usize) -> Option<u16> {
        if n < self.depth() {
            self.ids.get(n).copied()
        } else {
            None
        }
    }

    /// The path one level deeper, or `None` at a resource instance.
    pub fn child(&self, id: u16) -> Option<Path> {
        let mut p = *self;
        let slot = p.ids.get_mut(self.depth())?;
        *slot = id;
        p.len += 1;
        Some(p)
    }

    /// The path one level up (the root's parent is the root).
    pub fn parent(&self) -> Path {
        let mut p = *self;
        if p.len > 0 {
            p.len -= 1;
            if let Some(slot) = p.ids.get_mut(p.len as usize) {
                *slot = 0;
            }
        }
        p
    }

    /// The IDs present, outermost first.
    pub fn ids(&self) -> &[u16] {
        self.ids.get(..self.depth()).unwrap_or(&[])
    }

    /// True if `other` is this path or lies below it.
    pub fn contains(&self, other: &Path) -> bool {
        other.depth() >= self.depth() && other.ids().starts_with(self.ids())
    }
}

fn parse_id(seg: &str) -> Result<u16, PathError> {
    id_of(seg.as_bytes()).ok_or_else(|| PathError::BadSegment(seg.to_string()))
}

/// The ID a segment names: 1 to 5 plain decimal digits ("+1", " 1" or "01x" are not IDs)
/// below MAX_ID. Read from the bytes as they came, so a request's path needs no UTF-8 check
/// first (digits are ASCII).
pub(crate) fn id_of(seg: &[u8]) -> Option<u16> {
    if seg.is_empty() || seg.len() > 5 {
        return None;
    }
    let mut v = 0u32;
    for b in seg {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    u16::try_from(v).ok().filter(|id| *id != MAX_ID)
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = PathText::default();
        f.write_str(self.text(&mut text))
    }
}

/// Room for the longest path, "/65535/65535/65535/65535".
#[derive(Default)]
pub(crate) struct PathText([u8; 24]);

impl Path {
    /// The path as text ("/3/0/1", "/" for the root), written into `buf` without the
    /// formatting machinery (issue 15: a Discover writes one per resource).
    pub(crate) fn text<'b>(&self, buf: &'b mut PathText) -> &'b str {
        let mut len = 0;
        for id in self.ids() {
            len += write_id(buf.0.get_mut(len..).unwrap_or_default(), *id);
        }
        if len == 0 {
            return "/";
        }
        // Only '/' and ASCII digits were written.
        core::str::from_utf8(buf.0.get(..len).unwrap_or_default()).unwrap_or("/")
    }
}

/// Writes "/" and `id` in decimal at the start of `out`; the number of bytes written (at most
/// 6, which `PathText` leaves room for at every level).
fn write_id(out: &mut [u8], id: u16) -> usize {
    let digits = crate::decimal::Decimal::of_unsigned(u64::from(id));
    let digits = digits.as_bytes();
    match out.get_mut(..1 + digits.len()) {
        Some([slash, rest @ ..]) => {
            *slash = b'/';
            rest.copy_from_slice(digits);
            1 + digits.len()
        }
        _ => 0,
    }
}

impl core::str::FromStr for Path {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Path, PathError> {
        Path::from_segments(s.split('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_an_id_when_it_is_1_to_5_digits_below_max_id() {
        for (seg, id) in [
            ("0", Some(0)),
            ("00000", Some(0)),
            ("007", Some(7)),
            ("65534", Some(65534)),
            ("65535", None),
            ("65536", None),
            ("99999", None),
            ("000001", None),
            ("", None),
            ("+1", None),
            (" 1", None),
            ("1a", None),
            ("١", None), // an Arabic-Indic digit is no ASCII digit
        ] {
            assert_eq!(id_of(seg.as_bytes()), id, "{seg:?}");
            assert_eq!(parse_id(seg).ok(), id, "{seg:?}");
        }
    }

    #[test]
    fn text_is_what_display_writes_at_every_length() {
        use alloc::string::ToString;
        let cases = [
            (Path::ROOT, "/"),
            (Path::object(0), "/0"),
            (Path::instance(9, 10), "/9/10"),
            (Path::resource(99, 100, 999), "/99/100/999"),
            (
                Path::resource_instance(1000, 9999, 10000, 65535),
                "/1000/9999/10000/65535",
            ),
            (
                Path::resource_instance(65535, 65535, 65535, 65535),
                "/65535/65535/65535/65535",
            ),
        ];
        for (path, text) in cases {
            assert_eq!(path.text(&mut PathText::default()), text);
            assert_eq!(path.to_string(), text);
        }
    }

    #[test]
    fn parses_and_prints_every_depth() {
        for s in ["/", "/3", "/3/0", "/3/0/7", "/3/0/7/1"] {
            let p: Path = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
        assert_eq!("3/0/".parse::<Path>().unwrap(), Path::instance(3, 0));
    }

    #[test]
    fn rejects_bad_segments() {
        assert!(matches!(
            "/a".parse::<Path>(),
            Err(PathError::BadSegment(_))
        ));
        assert!(matches!(
            "/65535".parse::<Path>(),
            Err(PathError::BadSegment(_))
        ));
        assert!(matches!(
            "/+1".parse::<Path>(),
            Err(PathError::BadSegment(_))
        ));
        assert!(matches!(
            "/1/2/3/4/5".parse::<Path>(),
            Err(PathError::TooLong)
        ));
        assert_eq!("/65534".parse::<Path>().unwrap(), Path::object(65534));
    }

    #[test]
    fn accessors_and_containment() {
        let p = Path::resource(1, 2, 3);
        assert_eq!(p.object_id(), Some(1));
        assert_eq!(p.instance_id(), Some(2));
        assert_eq!(p.resource_id(), Some(3));
        assert_eq!(p.resource_instance_id(), None);
        assert_eq!(p.parent(), Path::instance(1, 2));
        assert!(Path::ROOT.contains(&p));
        assert!(Path::object(1).contains(&p));
        assert!(!Path::object(2).contains(&p));
        assert!(!p.contains(&Path::object(1)));
        assert_eq!(Path::resource_instance(1, 2, 3, 4).child(5), None);
    }
}
