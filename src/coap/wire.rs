//! The fixed CoAP header and the structural checks that `coap_lite::Packet::from_bytes` leaves
//! out (it accepts any version and a payload marker with nothing after it).

/// Message types (RFC 7252 §3).
pub(crate) const CON: u8 = 0;
pub(crate) const NON: u8 = 1;
pub(crate) const ACK: u8 = 2;
pub(crate) const RST: u8 = 3;

/// The four fixed header bytes, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub ty: u8,
    pub tkl: u8,
    pub code: u8,
    pub mid: u16,
}

/// Reads the fixed header. `None` when there are fewer than 4 bytes or the version is not 1:
/// RFC 7252 §3, "Messages with unknown version numbers MUST be silently ignored".
pub(crate) fn read_header(bytes: &[u8]) -> Option<Header> {
    let (first, code, hi, lo) = match bytes {
        [a, b, c, d, ..] => (*a, *b, *c, *d),
        _ => return None,
    };
    if first >> 6 != 1 {
        return None;
    }
    Some(Header {
        ty: (first >> 4) & 0x03,
        tkl: first & 0x0F,
        code,
        mid: u16::from_be_bytes([hi, lo]),
    })
}

/// Whether the bytes after the header form a valid message (RFC 7252 §3, §3.1, §4.1).
pub(crate) fn well_formed(header: &Header, bytes: &[u8]) -> bool {
    // §3: "Lengths 9-15 are reserved, MUST NOT be sent, and MUST be processed as a message
    // format error."
    if header.tkl > 8 {
        return false;
    }
    // §4.1: an Empty message has TKL 0 and "bytes of data MUST NOT be present after the Message
    // ID field. If there are any bytes, they MUST be processed as a message format error."
    if header.code == 0 {
        return header.tkl == 0 && bytes.len() == 4;
    }
    let mut walk = OptionWalk::after_token(bytes, header.tkl);
    for _ in walk.by_ref() {}
    walk.payload_at().is_some()
}

/// The options of a message, in order, as (number, value start, value end) in its bytes
/// (RFC 7252 §3.1). The walk ends at the payload marker or the end of the message;
/// [`payload_at`](Self::payload_at) then says where the payload starts, or `None` when the
/// message is malformed (a truncated token or option, nibble 15, an option number past 65535,
/// a payload marker with no payload). The one decoder of options here: `well_formed` and
/// `coap::message` both walk with it.
#[derive(Debug, Clone)]
pub(crate) struct OptionWalk<'a> {
    bytes: &'a [u8],
    pos: usize,
    number: u32,
    end: Option<Option<usize>>,
}

impl<'a> OptionWalk<'a> {
    /// The options after a token of `tkl` bytes (the caller checked `tkl` ≤ 8).
    pub(crate) fn after_token(bytes: &'a [u8], tkl: u8) -> OptionWalk<'a> {
        let pos = 4 + usize::from(tkl);
        OptionWalk {
            bytes,
            pos,
            number: 0,
            // A token longer than the message is a format error before any option.
            end: (pos > bytes.len()).then_some(None),
        }
    }

    /// A buffer that holds options only, from its first byte (`MessageBuf`'s).
    pub(crate) fn options_only(bytes: &'a [u8]) -> OptionWalk<'a> {
        OptionWalk {
            bytes,
            pos: 0,
            number: 0,
            end: None,
        }
    }

    /// Where the payload starts (the message's length without one), once the walk is over;
    /// `None` while it is not, or when the message is malformed.
    pub(crate) fn payload_at(&self) -> Option<usize> {
        self.end.flatten()
    }

    fn step(&mut self) -> Result<Option<(u16, usize, usize)>, ()> {
        let Some(&first) = self.bytes.get(self.pos) else {
            self.end = Some(Some(self.bytes.len()));
            return Ok(None);
        };
        if first == 0xFF {
            // §3: "The presence of a marker followed by a zero-length payload MUST be processed
            // as a message format error."
            let start = self.pos + 1;
            self.end = Some((start < self.bytes.len()).then_some(start));
            return Ok(None);
        }
        // Nibbles below 13 are the value itself (the usual case: no extended bytes to read).
        let (delta, at) = match first >> 4 {
            nibble @ 0..=12 => (u32::from(nibble), self.pos + 1),
            nibble => extended(nibble, self.bytes, self.pos + 1).ok_or(())?,
        };
        let (length, at) = match first & 0x0F {
            nibble @ 0..=12 => (u32::from(nibble), at),
            nibble => extended(nibble, self.bytes, at).ok_or(())?,
        };
        self.number = self.number.checked_add(delta).ok_or(())?;
        let number = u16::try_from(self.number).map_err(|_| ())?;
        let end = usize::try_from(length)
            .ok()
            .and_then(|l| at.checked_add(l))
            .filter(|end| *end <= self.bytes.len())
            .ok_or(())?;
        self.pos = end;
        Ok(Some((number, at, end)))
    }
}

impl Iterator for OptionWalk<'_> {
    type Item = (u16, usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        if self.end.is_some() {
            return None;
        }
        match self.step() {
            Ok(option) => option,
            Err(()) => {
                self.end = Some(None);
                None
            }
        }
    }
}

/// Decodes an option delta or length nibble with its extension bytes (§3.1); nibble 15 is
/// reserved (a format error unless it is the payload marker, handled by the caller).
fn extended(nibble: u8, bytes: &[u8], pos: usize) -> Option<(u32, usize)> {
    match nibble {
        0..=12 => Some((u32::from(nibble), pos)),
        13 => {
            let b = *bytes.get(pos)?;
            Some((u32::from(b) + 13, pos + 1))
        }
        14 => {
            let hi = *bytes.get(pos)?;
            let lo = *bytes.get(pos + 1)?;
            Some((u32::from(u16::from_be_bytes([hi, lo])) + 269, pos + 2))
        }
        _ => None,
    }
}

/// Starts a message in `out`: the fixed header and the token (RFC 7252 §3). The token must be
/// at most 8 bytes (the endpoint checks the request's).
pub(crate) fn put_header(out: &mut Vec<u8>, ty: u8, code: u8, mid: u16, token: &[u8]) {
    let [hi, lo] = mid.to_be_bytes();
    let tkl = token.len().min(8) as u8;
    out.extend_from_slice(&[0x40 | ((ty & 0x03) << 4) | tkl, code, hi, lo]);
    out.extend_from_slice(token.get(..usize::from(tkl)).unwrap_or_default());
}

/// Appends option `number` after option `prev` (0 for the first), RFC 7252 §3.1: the delta and
/// the length as nibbles, each with its extension bytes. Options must come in ascending order.
/// `None` (nothing written) for a value longer than the format can say (65,804 bytes) or an
/// order violation.
pub(crate) fn put_option(out: &mut Vec<u8>, prev: u16, number: u16, value: &[u8]) -> Option<()> {
    put_option_head(out, prev, number, value.len())?;
    out.extend_from_slice(value);
    Some(())
}

/// [`put_option`] without the value, which the caller appends: `len` bytes of it.
pub(crate) fn put_option_head(out: &mut Vec<u8>, prev: u16, number: u16, len: usize) -> Option<()> {
    let delta = number.checked_sub(prev)?;
    let (d, d_ext) = nibble(usize::from(delta))?;
    let (l, l_ext) = nibble(len)?;
    out.push((d << 4) | l);
    out.extend_from_slice(d_ext.as_slice());
    out.extend_from_slice(l_ext.as_slice());
    Some(())
}

/// Extension bytes of a delta or length (0, 1 or 2 of them).
struct Ext {
    bytes: [u8; 2],
    len: usize,
}

impl Ext {
    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// The nibble and extension bytes for `n` (§3.1: 13 + one byte, 14 + two bytes).
fn nibble(n: usize) -> Option<(u8, Ext)> {
    match n {
        0..=12 => Some((
            n as u8,
            Ext {
                bytes: [0, 0],
                len: 0,
            },
        )),
        13..=268 => Some((
            13,
            Ext {
                bytes: [(n - 13) as u8, 0],
                len: 1,
            },
        )),
        _ => {
            let ext = u16::try_from(n.checked_sub(269)?).ok()?;
            Some((
                14,
                Ext {
                    bytes: ext.to_be_bytes(),
                    len: 2,
                },
            ))
        }
    }
}

/// A uint option value in its shortest form, without allocating (§3.2: 0 is zero-length).
pub(crate) fn uint_value(value: u32) -> ([u8; 4], usize) {
    let skip = (value.leading_zeros() / 8) as usize;
    (value.to_be_bytes(), 4 - skip)
}

/// Ends a message with its payload, after the payload marker when there is one (§3).
pub(crate) fn put_payload(out: &mut Vec<u8>, payload: &[u8]) {
    if !payload.is_empty() {
        out.push(0xFF);
        out.extend_from_slice(payload);
    }
}

/// An Empty message (code 0.00, no token): an ACK or RST matching `mid` (RFC 7252 §4.1).
pub(crate) fn empty(ty: u8, mid: u16) -> [u8; 4] {
    let [hi, lo] = mid.to_be_bytes();
    [0x40 | ((ty & 0x03) << 4), 0x00, hi, lo]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Option<bool> {
        read_header(bytes).map(|h| well_formed(&h, bytes))
    }

    #[test]
    fn header_fields() {
        let h = read_header(&[0x68, 0x41, 0x37, 0x21]).unwrap();
        assert_eq!(
            h,
            Header {
                ty: ACK,
                tkl: 8,
                code: 0x41,
                mid: 0x3721
            }
        );
        assert_eq!(read_header(&[0x40, 0x00, 0x12]), None);
        assert_eq!(read_header(&[0x80, 0x00, 0x12, 0x34]), None); // version 2
        assert_eq!(read_header(&[0x00, 0x00, 0x12, 0x34]), None); // version 0
    }

    #[test]
    fn format_errors() {
        assert_eq!(check(&[0x40, 0x00, 0x12, 0x34]), Some(true)); // ping
        assert_eq!(check(&[0x40, 0x00, 0x12, 0x34, 0x00]), Some(false)); // empty + byte
        assert_eq!(check(&[0x41, 0x00, 0x12, 0x34, 0x00]), Some(false)); // empty + token
        assert_eq!(
            check(&[0x49, 0x01, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            Some(false)
        ); // TKL 9
        assert_eq!(check(&[0x48, 0x01, 0, 1, 1, 2, 3]), Some(false)); // token truncated
        assert_eq!(check(&[0x40, 0x01, 0, 1, 0xF1, 0x00]), Some(false)); // delta 15
        assert_eq!(check(&[0x40, 0x01, 0, 1, 0x1F, 0x00]), Some(false)); // length 15
        assert_eq!(check(&[0x40, 0x01, 0, 1, 0xB3, b'a']), Some(false)); // value truncated
        assert_eq!(check(&[0x40, 0x01, 0, 1, 0xD0]), Some(false)); // ext delta missing
        assert_eq!(check(&[0x40, 0x01, 0, 1, 0xE0, 0x01]), Some(false)); // ext delta short
        assert_eq!(check(&[0x40, 0x01, 0, 1, 0xE0, 0xFF, 0x00]), Some(false)); // number > 65535
        assert_eq!(check(&[0x40, 0x01, 0, 1, 0xFF]), Some(false)); // marker, no payload
        assert_eq!(check(&[0x40, 0x01, 0, 1, 0xFF, 0x31]), Some(true));
        assert_eq!(check(&[0x40, 0x01, 0, 1, 0xE0, 0xFE, 0xF2]), Some(true)); // option 65535
        assert_eq!(check(&[0x40, 0x01, 0, 1, 0xD1, 0x0E, 0x05]), Some(true)); // option 27
    }

    #[test]
    fn options_are_written_with_their_delta_and_length_extensions() {
        let mut out = Vec::new();
        put_header(&mut out, ACK, 0x45, 0x1234, &[0xAB, 0xCD]);
        assert_eq!(out, [0x62, 0x45, 0x12, 0x34, 0xAB, 0xCD]);
        let mut o = Vec::new();
        put_option(&mut o, 0, 12, &[]).unwrap();
        put_option(&mut o, 12, 27, &[7]).unwrap();
        put_option(&mut o, 27, 300, &[1; 13]).unwrap();
        let mut expect = vec![0xC0, 0xD1, 0x02, 0x07, 0xED, 0x00, 0x04, 0x00];
        expect.extend([1; 13]);
        assert_eq!(o, expect);
        let mut long = Vec::new();
        put_option(&mut long, 0, 8, &[0; 300]).unwrap();
        assert_eq!(long.get(..3), Some(&[0x8E, 0x00, 0x1F][..]));
        assert_eq!(put_option(&mut long, 8, 6, &[]), None);
        assert_eq!(put_option(&mut Vec::new(), 0, 1, &[0; 65_805]), None);
        assert_eq!(uint_value(0).1, 0);
        assert_eq!(uint_value(0x2A).1, 1);
        assert_eq!(uint_value(11542), (11542u32.to_be_bytes(), 2));
        assert_eq!(uint_value(u32::MAX).1, 4);
        let mut p = Vec::new();
        put_payload(&mut p, &[]);
        put_payload(&mut p, b"x");
        assert_eq!(p, [0xFF, b'x']);
    }

    #[test]
    fn the_option_walk_gives_each_value_and_where_the_payload_starts() {
        // Token AB; Uri-Path "a" (11), option 300 empty (delta 289: nibble 14), payload "xy".
        let m = [
            0x41, 0x01, 0, 1, 0xAB, 0xB1, b'a', 0xE0, 0x00, 0x14, 0xFF, b'x', b'y',
        ];
        let mut walk = OptionWalk::after_token(&m, 1);
        assert_eq!(walk.payload_at(), None, "not over yet");
        assert_eq!(
            walk.by_ref().collect::<Vec<_>>(),
            [(11, 6, 7), (300, 10, 10)]
        );
        assert_eq!(walk.payload_at(), Some(11));
        // Without a payload it starts at the end; a truncated value ends the walk as malformed.
        let mut bare = OptionWalk::after_token(&m[..10], 1);
        assert_eq!(bare.by_ref().count(), 2);
        assert_eq!(bare.payload_at(), Some(10));
        let mut cut = OptionWalk::after_token(&m[..6], 1);
        assert_eq!(cut.by_ref().count(), 0);
        assert_eq!(cut.payload_at(), None);
        // A token longer than the message.
        let mut short = OptionWalk::after_token(&m[..5], 4);
        assert_eq!((short.next(), short.payload_at()), (None, None));
    }

    #[test]
    fn empty_messages() {
        assert_eq!(empty(RST, 0x1234), [0x70, 0x00, 0x12, 0x34]);
        assert_eq!(empty(ACK, 0x2222), [0x60, 0x00, 0x22, 0x22]);
    }
}
