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
    options_well_formed(bytes, 4 + usize::from(header.tkl)).is_some()
}

/// Walks the options from `pos` to the end or to the payload marker.
fn options_well_formed(bytes: &[u8], mut pos: usize) -> Option<()> {
    if pos > bytes.len() {
        return None; // token truncated
    }
    let mut number: u32 = 0;
    while let Some(&first) = bytes.get(pos) {
        if first == 0xFF {
            // §3: "The presence of a marker followed by a zero-length payload MUST be processed
            // as a message format error."
            return (pos + 1 < bytes.len()).then_some(());
        }
        pos += 1;
        let (delta, next) = extended(first >> 4, bytes, pos)?;
        let (length, next) = extended(first & 0x0F, bytes, next)?;
        number = number.checked_add(delta)?;
        if number > u32::from(u16::MAX) {
            return None;
        }
        let end = next.checked_add(usize::try_from(length).ok()?)?;
        if end > bytes.len() {
            return None; // value truncated
        }
        pos = end;
    }
    Some(())
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
    fn empty_messages() {
        assert_eq!(empty(RST, 0x1234), [0x70, 0x00, 0x12, 0x34]);
        assert_eq!(empty(ACK, 0x2222), [0x60, 0x00, 0x22, 0x22]);
    }
}
