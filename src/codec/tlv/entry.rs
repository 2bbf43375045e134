//! The TLV entry layer: the byte layout of one entry (Core 1.1 §7.4.3.1), without values.

use alloc::string::String;
use alloc::vec::Vec;

use super::malformed;
use crate::codec::CodecError;

/// The four TLV kinds, from bits 7–6 of the type byte (Core 1.1 §7.4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlvKind {
    /// `00`: the value is a sequence of Resource / Multiple-Resource TLVs.
    ObjectInstance,
    /// `01`: one instance of a multiple-instance resource.
    ResourceInstance,
    /// `10`: the value is a sequence of Resource-Instance TLVs.
    MultipleResource,
    /// `11`: a single resource with its value.
    Resource,
}

impl TlvKind {
    fn from_type_byte(ty: u8) -> TlvKind {
        match ty >> 6 {
            0 => TlvKind::ObjectInstance,
            1 => TlvKind::ResourceInstance,
            2 => TlvKind::MultipleResource,
            _ => TlvKind::Resource,
        }
    }

    const fn type_bits(self) -> u8 {
        match self {
            TlvKind::ObjectInstance => 0x00,
            TlvKind::ResourceInstance => 0x40,
            TlvKind::MultipleResource => 0x80,
            TlvKind::Resource => 0xC0,
        }
    }

    /// The kinds allowed directly inside an entry of this kind (Core 1.1 §7.4.3: an Object
    /// Instance holds resources, a Multiple Resource holds resource instances).
    fn allowed_children(self) -> &'static [TlvKind] {
        match self {
            TlvKind::ObjectInstance => &[TlvKind::Resource, TlvKind::MultipleResource],
            TlvKind::MultipleResource => &[TlvKind::ResourceInstance],
            TlvKind::ResourceInstance | TlvKind::Resource => &[],
        }
    }
}

/// One parsed TLV entry; `value` borrows from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvEntry<'a> {
    /// What the entry is, from bits 7–6 of the type byte.
    pub kind: TlvKind,
    /// The Object Instance, Resource or Resource Instance ID (8 or 16 bits on the wire).
    pub id: u16,
    /// The value bytes: a resource value, or the nested entries of an Object Instance or
    /// Multiple Resource.
    pub value: &'a [u8],
}

impl<'a> TlvEntry<'a> {
    /// The entries nested in an Object Instance or Multiple Resource, checked to be of a kind
    /// that may appear there. Other kinds have no nested entries: error.
    pub fn children(&self) -> Result<Vec<TlvEntry<'a>>, CodecError> {
        Ok(self.nested()?.iter().collect())
    }

    /// The same checks as [`children`](Self::children), without collecting the entries.
    pub(crate) fn nested(&self) -> Result<Entries<'a>, CodecError> {
        let allowed = self.kind.allowed_children();
        if allowed.is_empty() {
            return Err(malformed("a resource TLV has no nested TLVs"));
        }
        let children = Entries::parse(self.value)?;
        if children.iter().any(|c| !allowed.contains(&c.kind)) {
            return Err(malformed(match self.kind {
                TlvKind::ObjectInstance => {
                    "object instance TLV holds something else than resources"
                }
                _ => "multiple resource TLV holds something else than resource instances",
            }));
        }
        Ok(children)
    }
}

/// The entries of a byte string, every one read and checked once (as by [`parse_entries`],
/// with the same error) and then walked again as often as needed, without a `Vec` of them
/// (issue 15: two or three vectors per TLV write).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entries<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> Entries<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Entries<'a>, CodecError> {
        let mut count = 0;
        for entry in TlvReader::new(bytes) {
            entry?;
            count += 1;
        }
        Ok(Entries { bytes, count })
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// The entries in order (each was read without error by `parse`).
    pub(crate) fn iter(&self) -> impl Iterator<Item = TlvEntry<'a>> + 'a {
        TlvReader::new(self.bytes).map_while(Result::ok)
    }

    /// The entry, if there is exactly one.
    pub(crate) fn only(&self) -> Option<TlvEntry<'a>> {
        (self.count == 1).then(|| self.iter().next()).flatten()
    }
}

/// Iterates over the TLV entries of a byte string. After the first error it yields nothing more.
#[derive(Debug, Clone)]
pub struct TlvReader<'a> {
    rest: &'a [u8],
}

impl<'a> TlvReader<'a> {
    /// A reader over the entries of `bytes`, from the first.
    pub fn new(bytes: &'a [u8]) -> TlvReader<'a> {
        TlvReader { rest: bytes }
    }
}

impl<'a> Iterator for TlvReader<'a> {
    type Item = Result<TlvEntry<'a>, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match read_entry(self.rest) {
            Ok((entry, rest)) => {
                self.rest = rest;
                Some(Ok(entry))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Parses a whole byte string into its top-level entries (nested ones stay in `value`).
pub fn parse_entries(bytes: &[u8]) -> Result<Vec<TlvEntry<'_>>, CodecError> {
    TlvReader::new(bytes).collect()
}

/// Reads one entry: type byte, 1- or 2-byte ID, 0–3 length bytes, value (Core 1.1 §7.4.3.1).
fn read_entry(bytes: &[u8]) -> Result<(TlvEntry<'_>, &[u8]), CodecError> {
    entry_at(bytes).ok_or(CodecError::Truncated)
}

/// [`read_entry`], `None` for a truncated entry (the only way one can fail: a small return
/// value, issue 15).
fn entry_at(bytes: &[u8]) -> Option<(TlvEntry<'_>, &[u8])> {
    let (&ty, rest) = bytes.split_first()?;
    // Bit 5: identifier length, 0 = 8 bits, 1 = 16 bits.
    let (id, rest) = match ty & 0x20 {
        0 => {
            let (&id, rest) = rest.split_first()?;
            (u16::from(id), rest)
        }
        _ => {
            let (id, rest) = rest.split_first_chunk::<2>()?;
            (u16::from_be_bytes(*id), rest)
        }
    };
    // Bits 4–3: length type; 00 means the length is in bits 2–0, otherwise 1–3 length bytes
    // follow and bits 2–0 are ignored.
    let (len, rest) = match (ty >> 3) & 0b11 {
        0 => (usize::from(ty & 0b111), rest),
        n => {
            let n = usize::from(n);
            let head = rest.get(..n)?;
            let len = head
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, rest.get(n..)?)
        }
    };
    if len > rest.len() {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    let entry = TlvEntry {
        kind: TlvKind::from_type_byte(ty),
        id,
        value,
    };
    Some((entry, rest))
}

/// Largest value a TLV can carry: the length field has at most 24 bits (Core 1.1 §7.4.3.1).
pub const MAX_VALUE_LEN: usize = 0xFF_FFFF;

/// Appends one entry, choosing the shortest ID and length forms (8-bit ID below 256; length in
/// the type byte below 8, else the fewest length bytes).
pub fn write_entry(
    out: &mut Vec<u8>,
    kind: TlvKind,
    id: u16,
    value: &[u8],
) -> Result<(), CodecError> {
    let (head, n) = header(kind, id, value.len())?;
    // The header (type, ID, length: at most 6 bytes) put together first, then appended with
    // the value in two copies (issue 15: byte by byte it was a third of a TLV Read's encoding).
    out.reserve(n + value.len());
    out.extend_from_slice(head.get(..n).unwrap_or(&[]));
    out.extend_from_slice(value);
    Ok(())
}

/// Appends the header of an entry whose value of `len` bytes the caller appends next (a
/// Multiple-Resource TLV's instances, written in place).
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    kind: TlvKind,
    id: u16,
    len: usize,
) -> Result<(), CodecError> {
    let (head, n) = header(kind, id, len)?;
    out.extend_from_slice(head.get(..n).unwrap_or(&[]));
    Ok(())
}

/// The bytes an entry with ID `id` and a value of `len` bytes takes, header included.
pub(crate) fn entry_len(id: u16, len: usize) -> usize {
    let id_bytes = if id > 0xFF { 2 } else { 1 };
    let len_bytes = match len {
        0..=7 => 0,
        8..=0xFF => 1,
        0x100..=0xFFFF => 2,
        _ => 3,
    };
    (1 + id_bytes + len_bytes) + len
}

/// An entry's header (type byte, ID, length) and how many of its 6 bytes it uses.
fn header(kind: TlvKind, id: u16, len: usize) -> Result<([u8; 6], usize), CodecError> {
    if len > MAX_VALUE_LEN {
        return Err(CodecError::BadValue(String::from(
            "value longer than a TLV length field can express (16 MiB)",
        )));
    }
    let mut ty = kind.type_bits();
    let short_id = u8::try_from(id).ok();
    if short_id.is_none() {
        ty |= 0x20;
    }
    let len_bytes: usize = match u8::try_from(len) {
        Ok(l) if l < 8 => {
            ty |= l;
            0
        }
        Ok(_) => 1,
        Err(_) if len <= 0xFFFF => 2,
        Err(_) => 3,
    };
    ty |= (len_bytes as u8) << 3;
    let mut head = [ty, 0, 0, 0, 0, 0];
    let mut n = 1;
    let mut put = |b: u8| {
        if let Some(slot) = head.get_mut(n) {
            *slot = b;
            n += 1;
        }
    };
    match short_id {
        Some(b) => put(b),
        None => id.to_be_bytes().into_iter().for_each(&mut put),
    }
    let len_be = (len as u32).to_be_bytes();
    len_be
        .get(4 - len_bytes..)
        .unwrap_or(&[])
        .iter()
        .for_each(|b| put(*b));
    Ok((head, n))
}
