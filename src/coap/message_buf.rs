//! A CoAP message held as its code, its options already encoded and its payload: the client's
//! own requests (Register, Update, De-register, Bootstrap-Request, Send, a firmware block GET)
//! and the responses they get. A `coap_lite::Packet` keeps a `BTreeMap` of linked lists with a
//! vector per value: ten to twenty allocations for a Register, made, cloned for block-wise and
//! dropped again (issue 15). Here the options are one buffer in their wire form (RFC 7252
//! §3.1, deltas counted from 0), so a message costs two allocations and its datagram is the
//! header, this buffer and the payload.
//!
//! Options are meant to be added in ascending number, as builders know them; one added out of
//! order, or removed, rewrites the buffer (block-wise does that once per block).

use alloc::vec::Vec;

use super::message::{option, Message};
use super::wire::{self, OptionWalk};

/// See the module notes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MessageBuf {
    /// The code byte (`msg::POST` …).
    pub(crate) code: u8,
    /// The options in wire form, ascending.
    options: Vec<u8>,
    /// The number of the last option in `options` (0 without options).
    last: u16,
    /// The payload.
    pub(crate) payload: Vec<u8>,
}

impl MessageBuf {
    /// A message with code `code` and neither options nor payload.
    pub(crate) fn new(code: u8) -> MessageBuf {
        MessageBuf {
            code,
            ..MessageBuf::default()
        }
    }

    /// A request with one Uri-Path option per segment and one Uri-Query option per query.
    pub(crate) fn request(code: u8, path: &[&str], queries: &[&str]) -> MessageBuf {
        let mut m = MessageBuf::new(code);
        // Room for these and a few more (a Register's queries and Content-Format), so the
        // buffer is allocated once.
        let given: usize = path.iter().chain(queries).map(|s| s.len() + 3).sum();
        m.options.reserve_exact(given + 64);
        for segment in path {
            m.add(option::URI_PATH, segment.as_bytes());
        }
        for query in queries {
            m.add(option::URI_QUERY, query.as_bytes());
        }
        m
    }

    /// A received message kept beyond its datagram (a response, which block-wise may hold
    /// while it fetches the next block): its options copied as they came, in wire form.
    pub(crate) fn of(message: &Message<'_>) -> MessageBuf {
        let options = message.option_bytes().to_vec();
        let last = OptionWalk::options_only(&options)
            .last()
            .map_or(0, |(n, _, _)| n);
        MessageBuf {
            code: message.code(),
            options,
            last,
            payload: message.payload().to_vec(),
        }
    }

    /// The same code and options without the payload (for the blocks of a block-wise request).
    pub(crate) fn without_payload(&self) -> MessageBuf {
        MessageBuf {
            code: self.code,
            options: self.options.clone(),
            last: self.last,
            payload: Vec::new(),
        }
    }

    /// Adds an option value after those already there with the same number.
    pub(crate) fn add(&mut self, number: u16, value: &[u8]) {
        self.add_joined(number, &[value]);
    }

    /// Adds an option whose value is `parts` one after the other (`ep=` and the name), without
    /// putting them together first.
    pub(crate) fn add_joined(&mut self, number: u16, parts: &[&[u8]]) {
        if number < self.last {
            let mut value = Vec::new();
            for part in parts {
                value.extend_from_slice(part);
            }
            self.rewrite(|_| true, Some((number, &value)));
            return;
        }
        let len = parts.iter().map(|p| p.len()).sum();
        // A value too long for the format (over 65,804 bytes) is not written; no option of
        // ours comes near it.
        if wire::put_option_head(&mut self.options, self.last, number, len).is_some() {
            for part in parts {
                self.options.extend_from_slice(part);
            }
            self.last = number;
        }
    }

    /// Adds a uint option in its shortest form (RFC 7252 §3.2).
    pub(crate) fn add_uint(&mut self, number: u16, value: u32) {
        let (bytes, len) = wire::uint_value(value);
        self.add(number, bytes.get(4 - len..).unwrap_or_default());
    }

    /// Removes every value of option `number`.
    pub(crate) fn remove(&mut self, number: u16) {
        if self.values(number).next().is_some() {
            self.rewrite(|n| n != number, None);
        }
    }

    /// Every value of option `number`, in order.
    pub(crate) fn values(&self, number: u16) -> impl Iterator<Item = &[u8]> + '_ {
        self.walk()
            .filter(move |(n, _)| *n == number)
            .map(|(_, value)| value)
    }

    /// The first value of a uint option (RFC 7252 §3.2), if it has one of at most 4 bytes.
    pub(crate) fn uint(&self, number: u16) -> Option<u32> {
        let value = self.values(number).next()?;
        (value.len() <= 4).then(|| value.iter().fold(0, |n, b| (n << 8) | u32::from(*b)))
    }

    /// The message's datagram under the header the endpoint chose: type (`wire::CON` …),
    /// message ID and token (at most 8 bytes, RFC 7252 §3; longer gives no datagram).
    pub(crate) fn encode_as(&self, ty: u8, mid: u16, token: &[u8]) -> Vec<u8> {
        if token.len() > 8 {
            return Vec::new();
        }
        let size = 4 + token.len() + self.options.len() + 1 + self.payload.len();
        let mut out = Vec::with_capacity(size);
        wire::put_header(&mut out, ty, self.code, mid, token);
        out.extend_from_slice(&self.options);
        wire::put_payload(&mut out, &self.payload);
        out
    }

    /// The options with their numbers, in order.
    fn walk(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        OptionWalk::options_only(&self.options)
            .map(|(n, start, end)| (n, self.options.get(start..end).unwrap_or_default()))
    }

    /// Writes the options again: those `keep` says yes to, and `insert` after every option
    /// numbered up to its own (so it follows values of the same number already there).
    fn rewrite(&mut self, keep: impl Fn(u16) -> bool, insert: Option<(u16, &[u8])>) {
        let room = self.options.len() + insert.map_or(0, |(_, v)| v.len() + 5);
        let mut out = Vec::with_capacity(room);
        let mut last = 0;
        let mut pending = insert;
        for (n, value) in self.walk() {
            if let Some((number, new)) = pending.filter(|(number, _)| n > *number) {
                if wire::put_option(&mut out, last, number, new).is_some() {
                    last = number;
                }
                pending = None;
            }
            if keep(n) && wire::put_option(&mut out, last, n, value).is_some() {
                last = n;
            }
        }
        if let Some((number, new)) = pending {
            if wire::put_option(&mut out, last, number, new).is_some() {
                last = number;
            }
        }
        self.options = out;
        self.last = last;
    }

    /// The same message as a `Packet`, to test builders with coap-lite's getters.
    #[cfg(test)]
    pub(crate) fn to_packet(&self) -> coap_lite::Packet {
        coap_lite::Packet::from_bytes(&self.encode_as(wire::CON, 0, &[])).unwrap_or_default()
    }

    /// A `Packet` built by a test as a message held here.
    #[cfg(test)]
    pub(crate) fn of_packet(packet: &coap_lite::Packet) -> MessageBuf {
        let bytes = crate::coap::msg::to_bytes_as(packet, wire::ACK, 0, packet.get_token());
        wire::read_header(&bytes)
            .and_then(|header| Message::parse(&bytes, header))
            .map(|m| MessageBuf::of(&m))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coap::msg;
    use coap_lite::{CoapOption, Packet};

    /// The same options added to a coap-lite `Packet`, which sorts them itself.
    fn packet_with(code: u8, options: &[(u16, &[u8])], payload: &[u8]) -> Packet {
        let mut p = msg::new_request(code, &[], &[]);
        for (n, v) in options {
            p.add_option(CoapOption::from(*n), v.to_vec());
        }
        p.payload = payload.to_vec();
        p
    }

    #[test]
    fn options_in_any_order_give_the_bytes_coap_lite_gives() {
        let long = [5u8; 300];
        let orders: [&[(u16, &[u8])]; 5] = [
            &[(11, b"rd"), (12, &[40]), (15, b"ep=a"), (15, b"lt=60")],
            // Out of order: Content-Format after the queries, Block1 before Size1 and Uri-Path.
            &[
                (15, b"ep=a"),
                (12, &[40]),
                (60, &[4]),
                (27, &[0x0E]),
                (11, b"rd"),
            ],
            // Same number out of order keeps insertion order among equals.
            &[(15, b"1"), (11, b"x"), (15, b"2"), (11, b"y"), (15, b"3")],
            &[
                (2000, &long),
                (14, &[]),
                (13, &[1]),
                (269, &[2]),
                (268, &[3]),
            ],
            &[],
        ];
        for options in orders {
            for payload in [&b""[..], b"</1/0>"] {
                let mut m = MessageBuf::new(msg::POST);
                for (n, v) in options {
                    m.add(*n, v);
                }
                m.payload = payload.to_vec();
                let mut p = packet_with(msg::POST, options, payload);
                p.header.message_id = 0x1234;
                p.set_token(vec![1, 2, 3]);
                assert_eq!(
                    m.encode_as(wire::CON, 0x1234, &[1, 2, 3]),
                    p.to_bytes_unlimited().unwrap(),
                    "{options:?}"
                );
            }
        }
    }

    #[test]
    fn removing_and_reading_options() {
        let mut m = MessageBuf::request(msg::GET, &["fw", "image"], &["v=2"]);
        m.add_uint(option::BLOCK2, 0x26);
        m.add(option::SIZE2, &[]);
        assert_eq!(m.uint(option::BLOCK2), Some(0x26));
        assert_eq!(m.uint(option::SIZE2), Some(0));
        assert_eq!(m.uint(option::BLOCK1), None);
        let path: Vec<&[u8]> = m.values(option::URI_PATH).collect();
        assert_eq!(path, [&b"fw"[..], b"image"]);
        m.remove(option::BLOCK2);
        m.remove(option::BLOCK1); // absent: nothing changes
        assert_eq!(m.uint(option::BLOCK2), None);
        let p = packet_with(
            msg::GET,
            &[(11, b"fw"), (11, b"image"), (15, b"v=2"), (28, &[])],
            &[],
        );
        assert_eq!(m.encode_as(wire::NON, 0, &[]), {
            let mut p = p;
            p.header.set_type(coap_lite::MessageType::NonConfirmable);
            p.to_bytes_unlimited().unwrap()
        });
        // A value made of parts is the parts one after the other.
        let mut joined = MessageBuf::new(msg::POST);
        joined.add_joined(option::URI_QUERY, &[b"ep=", b"dev-1"]);
        joined.add_joined(option::URI_PATH, &[b"r", b"d"]);
        let mut whole = MessageBuf::new(msg::POST);
        whole.add(option::URI_PATH, b"rd");
        whole.add(option::URI_QUERY, b"ep=dev-1");
        assert_eq!(joined, whole);
        // No datagram for a token over 8 bytes.
        assert!(whole.encode_as(wire::CON, 1, &[0; 9]).is_empty());
    }
}
