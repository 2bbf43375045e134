//! A received request read in place (RFC 7252 §3): header fields, token, options and payload
//! as slices of the datagram, so that serving a request parses nothing into the heap (issue 15:
//! `coap_lite::Packet` made about ten allocations per Read, a `BTreeMap` and a list per
//! option). The endpoint hands the client a `Message` for every request; `Packet` stays the
//! type of the public [`Incoming`](super::Incoming) and of everything the client builds.

use coap_lite::Packet;

use super::options;
use super::wire::{self, Header, CON};

/// Option numbers the client reads from requests (RFC 7252 §12.2, RFC 7959 §2.1, RFC 7641).
pub(crate) mod option {
    pub(crate) const ETAG: u16 = 4;
    pub(crate) const OBSERVE: u16 = 6;
    pub(crate) const LOCATION_PATH: u16 = 8;
    pub(crate) const URI_PATH: u16 = 11;
    pub(crate) const CONTENT_FORMAT: u16 = 12;
    pub(crate) const URI_QUERY: u16 = 15;
    pub(crate) const ACCEPT: u16 = 17;
    pub(crate) const BLOCK2: u16 = 23;
    pub(crate) const BLOCK1: u16 = 27;
    pub(crate) const SIZE2: u16 = 28;
    pub(crate) const SIZE1: u16 = 60;
}

/// A well-formed message (checked by `wire::well_formed` before it is made), borrowed from
/// the datagram it came in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message<'a> {
    bytes: &'a [u8],
    header: Header,
    /// The first `INDEXED` options, found in one walk: a request is asked for its options a
    /// dozen times on its way (path, query, formats, Observe, Block1/2, Size1).
    index: [Slot; INDEXED],
    indexed: usize,
    /// More options than the index holds: lookups walk the message instead.
    overflow: bool,
    /// Bit `n` set when option number `n` (below 64) is present: most lookups are of options a
    /// request does not carry (Block1, Block2, Observe, Uri-Query...), answered from this
    /// without searching (issue 15).
    present: u64,
    payload_at: usize,
    /// The first critical option of the request this endpoint does not recognise (RFC 7252
    /// §5.4.1), found in the same walk.
    unrecognised: Option<u16>,
}

/// How many options a message's index holds (a Read has 4 or 5).
const INDEXED: usize = 12;

/// One option in the index: its number and where its value is.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Slot {
    number: u16,
    start: u32,
    end: u32,
}

impl<'a> Message<'a> {
    /// The request in `bytes` (whose fixed `header` was read by `wire::read_header`), in one
    /// walk that indexes its options and checks everything `wire::well_formed` checks: `None`
    /// for a message format error (RFC 7252 §3: TKL over 8, a truncated token or option, an
    /// option number past 65535, nibble 15, a payload marker with no payload).
    pub(crate) fn parse(bytes: &'a [u8], header: Header) -> Option<Message<'a>> {
        if header.tkl > 8 {
            return None;
        }
        let mut m = Message {
            bytes,
            header,
            index: [Slot::default(); INDEXED],
            indexed: 0,
            overflow: false,
            present: 0,
            payload_at: bytes.len(),
            unrecognised: None,
        };
        let mut previous = None;
        let mut walk = wire::OptionWalk::after_token(bytes, header.tkl);
        for (n, start, end) in walk.by_ref() {
            if m.unrecognised.is_none()
                && !options::option_recognised(n, end - start, previous == Some(n))
            {
                m.unrecognised = Some(n);
            }
            previous = Some(n);
            m.present |= 1u64.checked_shl(u32::from(n)).unwrap_or(0);
            match m.index.get_mut(m.indexed) {
                Some(slot) => {
                    // Offsets fit: a datagram is far shorter than 4 GiB.
                    *slot = Slot {
                        number: n,
                        start: start as u32,
                        end: end as u32,
                    };
                    m.indexed += 1;
                }
                None => m.overflow = true,
            }
        }
        m.payload_at = walk.payload_at()?;
        Some(m)
    }

    /// The first critical option this endpoint does not recognise, if any.
    pub(crate) fn unrecognised_critical(&self) -> Option<u16> {
        self.unrecognised
    }

    /// The same for a response to one of our requests, where a Block option is understood
    /// only as `options::unrecognised_critical` says (`block_responses`).
    pub(crate) fn unrecognised_in_response(&self, block_responses: bool) -> Option<u16> {
        if block_responses || self.unrecognised.is_some() {
            return self.unrecognised;
        }
        // Only a Block option is judged otherwise in a response; Block2 comes first.
        [option::BLOCK2, option::BLOCK1].into_iter().find(|n| {
            self.first_option(*n)
                .is_some_and(|v| !options::block_is_whole(*n, v, false))
        })
    }

    /// The fixed header.
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// The code, e.g. 0x01 for GET.
    pub(crate) fn code(&self) -> u8 {
        self.header.code
    }

    /// The token (at most 8 bytes in a well-formed message).
    pub(crate) fn token(&self) -> &'a [u8] {
        let end = 4 + usize::from(self.header.tkl);
        self.bytes.get(4..end).unwrap_or_default()
    }

    /// What a response to it needs: the type, MID and token.
    pub(crate) fn reply_to(&self) -> RequestRef<'a> {
        RequestRef {
            confirmable: self.header.ty == CON,
            mid: self.header.mid,
            code: self.header.code,
            token: self.token(),
        }
    }

    /// Every option, in order: (number, value).
    pub(crate) fn options(&self) -> Options<'a> {
        Options {
            bytes: self.bytes,
            walk: wire::OptionWalk::after_token(self.bytes, self.header.tkl),
        }
    }

    /// The values of option `number`, in order.
    pub(crate) fn option(&self, number: u16) -> OptionValues<'a, '_> {
        if number < 64 && self.present & (1 << number) == 0 {
            return OptionValues::Indexed(self.bytes, [].iter(), number);
        }
        if self.overflow {
            OptionValues::Walked(self.options(), number)
        } else {
            let slots = self.index.get(..self.indexed).unwrap_or_default();
            // The options are in ascending order: start at the first with this number.
            let first = slots.partition_point(|s| s.number < number);
            let from = slots.get(first..).unwrap_or_default();
            OptionValues::Indexed(self.bytes, from.iter(), number)
        }
    }

    /// The first value of option `number`.
    pub(crate) fn first_option(&self, number: u16) -> Option<&'a [u8]> {
        self.option(number).next()
    }

    /// The first value of uint option `number`, leniently decoded (as `msg::uint_option`).
    pub(crate) fn uint_option(&self, number: u16) -> Option<u32> {
        self.first_option(number).and_then(super::msg::decode_uint)
    }

    /// The options as they came, in wire form (after the token, before the payload marker).
    pub(crate) fn option_bytes(&self) -> &'a [u8] {
        let start = 4 + usize::from(self.header.tkl);
        // Parsed: a payload marker, if any, is followed by a payload.
        let end = if self.payload_at < self.bytes.len() {
            self.payload_at - 1
        } else {
            self.bytes.len()
        };
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// The payload after the marker (empty without one).
    pub(crate) fn payload(&self) -> &'a [u8] {
        self.bytes.get(self.payload_at..).unwrap_or_default()
    }

    /// The same message as a `coap_lite::Packet`, for the public API.
    pub(crate) fn as_packet(&self) -> Option<Packet> {
        Packet::from_bytes(self.bytes).ok()
    }
}

/// What answering a request needs of it: a CON is answered in its ACK (same MID), a NON by a
/// NON; the token is echoed; the code tells a safe request (see `endpoint::incoming::is_safe`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestRef<'a> {
    pub confirmable: bool,
    pub mid: u16,
    pub code: u8,
    pub token: &'a [u8],
}

impl<'a> RequestRef<'a> {
    /// The same for a request held as a `Packet`.
    pub(crate) fn of_packet(p: &'a Packet) -> RequestRef<'a> {
        RequestRef {
            confirmable: p.header.get_type() == coap_lite::MessageType::Confirmable,
            mid: p.header.message_id,
            code: super::msg::code_of(p),
            token: p.get_token(),
        }
    }
}

/// The values of one option of a [`Message`], from its index or, past it, by walking.
#[derive(Debug, Clone)]
pub(crate) enum OptionValues<'a, 'm> {
    Indexed(&'a [u8], core::slice::Iter<'m, Slot>, u16),
    Walked(Options<'a>, u16),
}

impl<'a> Iterator for OptionValues<'a, '_> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            OptionValues::Indexed(bytes, slots, number) => {
                let s = slots.next().filter(|s| s.number == *number)?;
                bytes.get(s.start as usize..s.end as usize)
            }
            OptionValues::Walked(options, number) => loop {
                let (n, v) = options.next()?;
                if n == *number {
                    return Some(v);
                }
                if n > *number {
                    return None;
                }
            },
        }
    }
}

/// The options of a [`Message`] as (number, value), in order.
#[derive(Debug, Clone)]
pub(crate) struct Options<'a> {
    bytes: &'a [u8],
    walk: wire::OptionWalk<'a>,
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (number, start, end) = self.walk.next()?;
        Some((number, self.bytes.get(start..end)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn message(bytes: &[u8]) -> Message<'_> {
        let header = wire::read_header(bytes).unwrap();
        assert!(wire::well_formed(&header, bytes));
        Message::parse(bytes, header).unwrap()
    }

    /// `parse` refuses exactly what `wire::well_formed` refuses, and finds the unrecognised
    /// critical option `options::unrecognised_critical` finds.
    #[test]
    fn parse_agrees_with_well_formed_and_the_critical_option_check() {
        let cases: &[&[u8]] = &[
            &[0x40, 0x01, 0, 1],
            &[0x49, 0x01, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            &[0x48, 0x01, 0, 1, 1, 2, 3],
            &[0x40, 0x01, 0, 1, 0xF1, 0x00],
            &[0x40, 0x01, 0, 1, 0x1F, 0x00],
            &[0x40, 0x01, 0, 1, 0xB3, b'a'],
            &[0x40, 0x01, 0, 1, 0xD0],
            &[0x40, 0x01, 0, 1, 0xE0, 0x01],
            &[0x40, 0x01, 0, 1, 0xE0, 0xFF, 0x00],
            &[0x40, 0x01, 0, 1, 0xFF],
            &[0x40, 0x01, 0, 1, 0xFF, 0x31],
            &[0x40, 0x01, 0, 1, 0xE0, 0xFE, 0xF2],
            &[0x40, 0x01, 0, 1, 0xD1, 0x0E, 0x05],
            &[0x40, 0x01, 0, 1, 0x91, 0x00], // option 9 (OSCORE): not recognised
            &[0x40, 0x01, 0, 1, 0x71, 0x01, 0x01, 0x02], // Uri-Port twice
            &[0x40, 0x01, 0, 1, 0xB1, b'a', 0x01, b'b'], // Uri-Path twice: fine
            &[0x40, 0x01, 0, 1, 0x74, 1, 2, 3, 4], // Uri-Port too long
            &[0x40, 0x01, 0, 1, 0xD4, 0x0A, 1, 2, 3, 4], // Block2 (23) of 4 bytes
            &[0x40, 0x01, 0, 1, 0x60, 0x71, 0x00], // elective 6, then 13: critical, unknown
        ];
        for bytes in cases {
            let header = wire::read_header(bytes).unwrap();
            let parsed = Message::parse(bytes, header);
            assert_eq!(
                parsed.is_some(),
                wire::well_formed(&header, bytes),
                "{bytes:02x?}"
            );
            if let Some(m) = parsed {
                let packet = m.as_packet().unwrap();
                assert_eq!(
                    m.unrecognised_critical(),
                    options::unrecognised_critical(&packet, false),
                    "{bytes:02x?}"
                );
            }
        }
    }

    #[test]
    fn a_response_refuses_the_critical_options_the_packet_check_refuses() {
        // 2.05 responses with Block2 (23) and Block1 (27) of every shape, an unknown critical
        // option, and none; each judged with and without block-wise responses accepted.
        let blocks: [&[u8]; 6] = [
            &[0xD1, 0x0A, 0x06],             // Block2 NUM 0, no M: the whole body
            &[0xD1, 0x0A, 0x0E],             // Block2 NUM 0 with M
            &[0xD1, 0x0A, 0x16],             // Block2 NUM 1
            &[0xD1, 0x0E, 0x06],             // Block1 NUM 0
            &[0xD1, 0x0A, 0x0E, 0x41, 0x06], // Block2 with M, then Block1
            &[0xD1, 0x0A, 0x06, 0xC1, 0x00], // Block2 whole, then Proxy-Uri (35)
        ];
        let mut cases: Vec<Vec<u8>> = blocks
            .iter()
            .map(|b| [&[0x60, 0x45, 0, 1][..], b].concat())
            .collect();
        cases.push(vec![0x60, 0x45, 0, 1, 0x91, 0x00]); // OSCORE (9): unknown critical
        cases.push(vec![0x60, 0x45, 0, 1, 0xFF, b'x']); // no options
        for bytes in &cases {
            let header = wire::read_header(bytes).unwrap();
            let m = Message::parse(bytes, header).expect("well-formed");
            let packet = m.as_packet().unwrap();
            for accepted in [false, true] {
                assert_eq!(
                    m.unrecognised_in_response(accepted),
                    options::unrecognised_critical(&packet, accepted),
                    "{bytes:02x?} {accepted}"
                );
            }
        }
    }

    #[test]
    fn reads_token_options_and_payload_in_place_as_coap_lite_does() {
        // CON PUT /3/0/14 (Uri-Path x3), Content-Format 0, Uri-Query "a=1", Block1 (27),
        // option 300 (extended delta), payload "+02:00"; MID 0x1234, token AB CD.
        let mut d = vec![0x42, 0x03, 0x12, 0x34, 0xAB, 0xCD];
        d.extend([
            0xB1, b'3', 0x01, b'0', 0x02, b'1', b'4', 0x10, 0x33, b'a', b'=', b'1',
        ]);
        d.extend([0xC1, 0x0E, 0xE0, 0x00, 0x04, 0xFF]);
        d.extend(b"+02:00");
        let m = message(&d);
        assert_eq!((m.code(), m.header().mid), (0x03, 0x1234));
        assert_eq!(m.token(), [0xAB, 0xCD]);
        let numbers: Vec<u16> = m.options().map(|(n, _)| n).collect();
        assert_eq!(numbers, [11, 11, 11, 12, 15, 27, 300]);
        let path: Vec<&[u8]> = m.option(11).collect();
        assert_eq!(path, [&b"3"[..], b"0", b"14"]);
        assert_eq!(m.uint_option(12), Some(0));
        assert_eq!(m.first_option(15), Some(&b"a=1"[..]));
        assert_eq!(m.uint_option(27), Some(0x0E));
        assert_eq!(m.first_option(300), Some(&[][..]));
        assert_eq!(m.first_option(17), None);
        assert_eq!(m.payload(), b"+02:00");
        let r = m.reply_to();
        assert!(r.confirmable && r.mid == 0x1234 && r.code == 3 && r.token == [0xAB, 0xCD]);

        let p = m.as_packet().unwrap();
        let theirs: Vec<(u16, Vec<u8>)> = p
            .options()
            .flat_map(|(n, vs)| vs.iter().map(move |v| (*n, v.clone())))
            .collect();
        let ours: Vec<(u16, Vec<u8>)> = m.options().map(|(n, v)| (n, v.to_vec())).collect();
        assert_eq!(ours, theirs);
        assert_eq!(p.payload, m.payload());
        let again = RequestRef::of_packet(&p);
        assert_eq!(
            (again.mid, again.code, again.token),
            (r.mid, r.code, r.token)
        );

        // More options than the index holds: found by walking, the same values.
        let mut many = vec![0x40, 0x01, 0x00, 0x01];
        for i in 0..20u8 {
            many.extend([if i == 0 { 0xB1 } else { 0x01 }, b'a' + i]);
        }
        many.extend([0x61, 0x07, 0xFF, b'p']);
        let m = message(&many);
        assert_eq!(m.option(11).count(), 20);
        assert_eq!(m.option(11).nth(19), Some(&b"t"[..]));
        assert_eq!(m.uint_option(17), Some(7));
        assert_eq!(m.payload(), b"p");

        // No options, no payload; a NON.
        let bare = [0x50, 0x01, 0x00, 0x07];
        let m = message(&bare);
        assert_eq!(m.options().count(), 0);
        assert!(m.payload().is_empty() && m.token().is_empty() && !m.reply_to().confirmable);
    }

    /// Every lookup finds what walking every option finds, for each number around the bits
    /// of the presence mask (0, 63, 64 and past it), indexed or overflowing the index.
    #[test]
    fn lookups_find_what_a_walk_finds_for_every_number() {
        // Options 0, 1 (twice), 11 (three times), 63, 64, 65, 300; then the same with 20 more
        // Uri-Paths, past the index.
        let (mut few, mut many) = (vec![0x40, 0x01, 0x00, 0x01], vec![0x40, 0x01, 0x00, 0x01]);
        let put = |out: &mut Vec<u8>, last: &mut u16, number: u16, value: &[u8]| {
            assert!(wire::put_option(out, *last, number, value).is_some());
            *last = number;
        };
        for (out, extra) in [(&mut few, 0usize), (&mut many, 20)] {
            let mut last = 0;
            put(out, &mut last, 0, b"z");
            put(out, &mut last, 1, b"a");
            put(out, &mut last, 1, b"b");
            for i in 0..3 + extra {
                put(out, &mut last, 11, &[b'a' + (i % 26) as u8]);
            }
            put(out, &mut last, 63, &[9]);
            put(out, &mut last, 64, &[]);
            put(out, &mut last, 65, &[1, 2]);
            put(out, &mut last, 300, b"far");
            out.extend([0xFF, b'!']);
        }
        for bytes in [&few, &many] {
            let m = message(bytes);
            for number in (0..=70).chain([299, 300, 301, u16::MAX]) {
                let walked: Vec<&[u8]> = m
                    .options()
                    .filter(|(n, _)| *n == number)
                    .map(|(_, v)| v)
                    .collect();
                let found: Vec<&[u8]> = m.option(number).collect();
                assert_eq!(found, walked, "option {number}");
                assert_eq!(m.first_option(number), walked.first().copied());
            }
            assert_eq!(m.payload(), b"!");
        }
    }
}
