//! Small helpers over `coap_lite::Packet` for the layers above: numeric codes, option getters
//! with lenient decoding, and request/response builders.

use alloc::string::String;
use alloc::vec::Vec;

use coap_lite::{CoapOption, MessageClass, MessageType, Packet};

use super::wire;

// Method codes (RFC 7252 §12.1.1; FETCH/iPATCH RFC 8132).
/// 0.01 GET (RFC 7252 §5.8.1): LwM2M Read, Discover and Observe.
pub const GET: u8 = 0x01;
/// 0.02 POST (RFC 7252 §5.8.2): LwM2M Create, Execute, partial-update Write, Register, Update,
/// Send, Bootstrap-Request and Bootstrap-Finish.
pub const POST: u8 = 0x02;
/// 0.03 PUT (RFC 7252 §5.8.3): LwM2M replacing Write, Write-Attributes and Bootstrap-Write.
pub const PUT: u8 = 0x03;
/// 0.04 DELETE (RFC 7252 §5.8.4): LwM2M Delete and De-register.
pub const DELETE: u8 = 0x04;
/// 0.05 FETCH (RFC 8132 §2): LwM2M Read-Composite and Observe-Composite.
pub const FETCH: u8 = 0x05;
/// 0.07 iPATCH (RFC 8132 §3): LwM2M Write-Composite.
pub const IPATCH: u8 = 0x07;

// Response codes (RFC 7252 §12.1.2; 2.31 and 4.08 from RFC 7959 §2.9).
/// 2.01 Created (RFC 7252 §5.9.1.1).
pub const CREATED: u8 = 0x41;
/// 2.02 Deleted (RFC 7252 §5.9.1.2).
pub const DELETED: u8 = 0x42;
/// 2.03 Valid (RFC 7252 §5.9.1.3).
pub const VALID: u8 = 0x43;
/// 2.04 Changed (RFC 7252 §5.9.1.4).
pub const CHANGED: u8 = 0x44;
/// 2.05 Content (RFC 7252 §5.9.1.5).
pub const CONTENT: u8 = 0x45;
/// 2.31 Continue (RFC 7959 §2.9.1): a block of a block-wise request was received.
pub const CONTINUE: u8 = 0x5F;
/// 4.00 Bad Request (RFC 7252 §5.9.2.1).
pub const BAD_REQUEST: u8 = 0x80;
/// 4.01 Unauthorized (RFC 7252 §5.9.2.2).
pub const UNAUTHORIZED: u8 = 0x81;
/// 4.02 Bad Option (RFC 7252 §5.9.2.3): an unrecognised critical option.
pub const BAD_OPTION: u8 = 0x82;
/// 4.03 Forbidden (RFC 7252 §5.9.2.4).
pub const FORBIDDEN: u8 = 0x83;
/// 4.04 Not Found (RFC 7252 §5.9.2.5).
pub const NOT_FOUND: u8 = 0x84;
/// 4.05 Method Not Allowed (RFC 7252 §5.9.2.6).
pub const METHOD_NOT_ALLOWED: u8 = 0x85;
/// 4.06 Not Acceptable (RFC 7252 §5.9.2.7): no representation in the Accept format.
pub const NOT_ACCEPTABLE: u8 = 0x86;
/// 4.08 Request Entity Incomplete (RFC 7959 §2.9.2): a block-wise transfer is missing blocks.
pub const REQUEST_ENTITY_INCOMPLETE: u8 = 0x88;
/// 4.12 Precondition Failed (RFC 7252 §5.9.2.8).
pub const PRECONDITION_FAILED: u8 = 0x8C;
/// 4.13 Request Entity Too Large (RFC 7252 §5.9.2.9, RFC 7959 §2.9.3).
pub const REQUEST_ENTITY_TOO_LARGE: u8 = 0x8D;
/// 4.15 Unsupported Content-Format (RFC 7252 §5.9.2.10).
pub const UNSUPPORTED_CONTENT_FORMAT: u8 = 0x8F;
/// 5.00 Internal Server Error (RFC 7252 §5.9.3.1).
pub const INTERNAL_SERVER_ERROR: u8 = 0xA0;
/// 5.01 Not Implemented (RFC 7252 §5.9.3.2).
pub const NOT_IMPLEMENTED: u8 = 0xA1;
/// 5.03 Service Unavailable (RFC 7252 §5.9.3.4).
pub const SERVICE_UNAVAILABLE: u8 = 0xA3;

/// The code byte of a message (`class << 5 | detail`).
pub fn code_of(packet: &Packet) -> u8 {
    u8::from(packet.header.code)
}

/// Sets the code byte. `MessageClass::from(u8)` maps every byte value and converts back to the
/// same byte, so any code survives the round trip.
pub fn set_code(packet: &mut Packet, code: u8) {
    packet.header.code = MessageClass::from(code);
}

/// "c.dd" notation of RFC 7252 §3, e.g. `0x45` → "2.05".
pub fn code_string(code: u8) -> String {
    alloc::format!("{}.{:02}", code >> 5, code & 0x1F)
}

/// True for 0.01–0.31 (RFC 7252 §3: class 0 with a non-zero detail is a request).
pub fn is_request_code(code: u8) -> bool {
    code != 0 && code >> 5 == 0
}

/// True for the response classes 2, 4 and 5 (RFC 7252 §3).
pub fn is_response_code(code: u8) -> bool {
    matches!(code >> 5, 2 | 4 | 5)
}

/// Decodes a uint option value (RFC 7252 §3.2: big-endian, leading zeros allowed, empty = 0).
/// Accepts up to 4 bytes; longer values do not fit the options LwM2M uses and yield `None`.
pub fn decode_uint(bytes: &[u8]) -> Option<u32> {
    if bytes.len() > 4 {
        return None;
    }
    Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// Encodes a uint option value in the shortest form: 0 is zero-length (RFC 7252 §3.2).
pub fn encode_uint(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes.get(skip..).map(<[u8]>::to_vec).unwrap_or_default()
}

/// Every value of a repeatable string option, in order; `None` if one is not UTF-8.
fn string_options(packet: &Packet, option: CoapOption) -> Option<Vec<String>> {
    match packet.get_option(option) {
        None => Some(Vec::new()),
        Some(values) => values
            .iter()
            .map(|v| String::from_utf8(v.clone()).ok())
            .collect(),
    }
}

/// The first value of a uint option, leniently decoded.
pub fn uint_option(packet: &Packet, option: CoapOption) -> Option<u32> {
    packet.get_first_option(option).and_then(|v| decode_uint(v))
}

/// Replaces an option with a single uint value.
fn set_uint_option(packet: &mut Packet, option: CoapOption, value: u32) {
    packet.clear_option(option);
    packet.add_option(option, encode_uint(value));
}

/// Uri-Path segments (option 11). `None` if a segment is not UTF-8 (RFC 7252 §5.10.1: strings).
pub fn uri_path(packet: &Packet) -> Option<Vec<String>> {
    string_options(packet, CoapOption::UriPath)
}

/// Uri-Query arguments (option 15), e.g. "ep=name". `None` if one is not UTF-8.
pub fn uri_query(packet: &Packet) -> Option<Vec<String>> {
    string_options(packet, CoapOption::UriQuery)
}

/// Location-Path segments (option 8) of a 2.01 response. `None` if one is not UTF-8.
pub fn location_path(packet: &Packet) -> Option<Vec<String>> {
    string_options(packet, CoapOption::LocationPath)
}

/// Content-Format (option 12), if present and at most 16 bits.
pub fn content_format(packet: &Packet) -> Option<u16> {
    uint_option(packet, CoapOption::ContentFormat).and_then(|v| u16::try_from(v).ok())
}

/// Accept (option 17), if present and at most 16 bits.
pub fn accept(packet: &Packet) -> Option<u16> {
    uint_option(packet, CoapOption::Accept).and_then(|v| u16::try_from(v).ok())
}

/// Observe (option 6, RFC 7641 §2), if present.
pub fn observe(packet: &Packet) -> Option<u32> {
    uint_option(packet, CoapOption::Observe)
}

/// Sets Content-Format (replacing any previous one); 0 (text/plain) encodes as an empty value.
pub fn set_content_format(packet: &mut Packet, format: u16) {
    set_uint_option(packet, CoapOption::ContentFormat, u32::from(format));
}

/// Sets Accept (replacing any previous one).
pub fn set_accept(packet: &mut Packet, format: u16) {
    set_uint_option(packet, CoapOption::Accept, u32::from(format));
}

/// Sets Observe (replacing any previous one). RFC 7641 §3.4 sequence numbers are 24-bit; the
/// value is masked to that range.
pub fn set_observe(packet: &mut Packet, value: u32) {
    set_uint_option(packet, CoapOption::Observe, value & 0x00FF_FFFF);
}

/// Appends Location-Path segments (e.g. the new instance of a Create: "1", "2").
pub fn add_location_path(packet: &mut Packet, segments: &[&str]) {
    for s in segments {
        packet.add_option(CoapOption::LocationPath, s.as_bytes().to_vec());
    }
}

/// A request with the given method code, one Uri-Path option per segment and one Uri-Query
/// option per query. Type, message ID and token are left for the endpoint to set.
pub fn new_request(code: u8, path_segments: &[&str], queries: &[&str]) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Confirmable);
    set_code(&mut p, code);
    for s in path_segments {
        p.add_option(CoapOption::UriPath, s.as_bytes().to_vec());
    }
    for q in queries {
        p.add_option(CoapOption::UriQuery, q.as_bytes().to_vec());
    }
    p
}

/// The datagram of a packet we built, written in one pass (RFC 7252 §3) under the header the
/// endpoint chose: type `ty` (`wire::CON`..), message ID and token; the packet gives code,
/// options and payload. coap-lite's `to_bytes` makes a vector per option and grows its output
/// (issue 15: ~2,800 instructions and 12 allocations for a Register; this is one allocation).
/// Empty if the message cannot be written: a token over 8 bytes (§3) or an option value over
/// 65,804 bytes (§3.1); an empty result is never sent. Sizes are the upper layers' business
/// (block-wise), hence no 1280-byte limit here.
pub(crate) fn to_bytes_as(packet: &Packet, ty: u8, mid: u16, token: &[u8]) -> Vec<u8> {
    if token.len() > 8 {
        return Vec::new();
    }
    let options: usize = packet
        .options()
        .flat_map(|(_, values)| values.iter())
        .map(|v| v.len() + 5)
        .sum();
    let mut out = Vec::with_capacity(4 + token.len() + options + 1 + packet.payload.len());
    wire::put_header(&mut out, ty, code_of(packet), mid, token);
    let mut prev = 0;
    for (number, values) in packet.options() {
        for value in values {
            if wire::put_option(&mut out, prev, *number, value).is_none() {
                return Vec::new();
            }
            prev = *number;
        }
    }
    wire::put_payload(&mut out, &packet.payload);
    out
}

/// A response with the given code; type, message ID and token are set by `Endpoint::respond`.
pub fn new_response(code: u8) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Acknowledgement);
    set_code(&mut p, code);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_bytes_writes_what_coap_lite_writes() {
        // Deltas and lengths across every nibble/extension boundary (RFC 7252 §3.1: 12, 13,
        // 268, 269), repeated options, every type, tokens 0..=8 long, with and without payload.
        let values: [Vec<u8>; 5] = [vec![], vec![1], vec![7; 12], vec![7; 13], vec![9; 300]];
        let numbers: [&[u16]; 6] = [
            &[],
            &[11, 11, 15],
            &[12],
            &[1, 14, 27, 60],
            &[300],
            &[3, 2000, 65000],
        ];
        let mut checked = 0;
        for (ty, t) in [
            (MessageType::Confirmable, wire::CON),
            (MessageType::NonConfirmable, wire::NON),
            (MessageType::Acknowledgement, wire::ACK),
            (MessageType::Reset, wire::RST),
        ] {
            for tkl in [0usize, 1, 8] {
                for numbers in numbers {
                    for (v, value) in values.iter().enumerate() {
                        for payload in [&b""[..], b"</1/0>", &[0xAB; 1500]] {
                            let mut p = new_request(POST, &[], &[]);
                            p.header.set_type(ty);
                            p.header.message_id = 0xBEEF;
                            let token: Vec<u8> = (0..tkl as u8).collect();
                            p.set_token(token.clone());
                            for (k, n) in numbers.iter().enumerate() {
                                // A different value per option, so order mistakes show.
                                let mut value = values[(v + k) % values.len()].clone();
                                value.push(k as u8);
                                p.add_option(CoapOption::from(*n), value);
                            }
                            p.add_option(CoapOption::from(7000 + v as u16), value.clone());
                            p.payload = payload.to_vec();
                            assert_eq!(
                                to_bytes_as(&p, t, 0xBEEF, &token),
                                p.to_bytes_unlimited().unwrap(),
                                "{numbers:?} {v}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 3 * 6 * 5 * 3);
        // A token over 8 bytes is no message.
        let p = new_request(GET, &["3"], &[]);
        assert!(to_bytes_as(&p, wire::CON, 1, &[0; 9]).is_empty());
    }

    #[test]
    fn codes_round_trip_and_print() {
        for c in 0..=255u8 {
            let mut p = Packet::new();
            set_code(&mut p, c);
            assert_eq!(code_of(&p), c);
        }
        assert_eq!(code_string(CONTENT), "2.05");
        assert_eq!(code_string(BAD_OPTION), "4.02");
        assert_eq!(code_string(NOT_IMPLEMENTED), "5.01");
        assert_eq!(code_string(GET), "0.01");
        assert!(is_request_code(IPATCH) && !is_request_code(0) && !is_request_code(CREATED));
        assert!(is_response_code(CONTINUE) && !is_response_code(0x60) && !is_response_code(0x20));
    }

    #[test]
    fn uint_options_are_lenient_on_input_and_shortest_on_output() {
        assert_eq!(decode_uint(&[]), Some(0));
        assert_eq!(decode_uint(&[0, 0, 0x28]), Some(40));
        assert_eq!(decode_uint(&[1, 2, 3, 4]), Some(0x0102_0304));
        assert_eq!(decode_uint(&[0, 0, 0, 0, 1]), None);
        assert_eq!(encode_uint(0), Vec::<u8>::new());
        assert_eq!(encode_uint(40), vec![0x28]);
        assert_eq!(encode_uint(11542), vec![0x2D, 0x16]);
        assert_eq!(encode_uint(0x0001_0000), vec![1, 0, 0]);
    }

    #[test]
    fn builders_produce_vector_r3_and_w1_shapes() {
        // VECTORS §3.2 R3: CON DELETE /name, MID 3, 8 zero bytes of token.
        let mut p = new_request(DELETE, &["name"], &[]);
        p.header.message_id = 3;
        p.set_token(vec![0; 8]);
        let expect = [
            0x48, 0x04, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0xb4, b'n', b'a', b'm', b'e',
        ];
        assert_eq!(p.to_bytes().unwrap(), expect);

        // VECTORS §3.2 R2: Update with two queries.
        let mut p = new_request(POST, &["name"], &["b=U", "sms"]);
        p.header.message_id = 2;
        p.set_token(vec![0; 8]);
        let bytes = p.to_bytes().unwrap();
        let tail = [
            0xb4, b'n', b'a', b'm', b'e', 0x43, b'b', b'=', b'U', 0x03, b's', b'm', b's',
        ];
        assert_eq!(bytes.get(12..), Some(&tail[..]));

        // Content-Format 0 is a zero-length option (W1: `10`).
        let mut r = new_response(CONTENT);
        set_content_format(&mut r, 0);
        set_content_format(&mut r, 0); // replaces, does not repeat
        assert_eq!(r.to_bytes().unwrap(), [0x60, 0x45, 0, 0, 0xC0]);
        assert_eq!(content_format(&r), Some(0));
    }

    #[test]
    fn getters_decode_vectors() {
        // VECTORS §3.2 L1: ACK 2.01, Location-Path "rd", "5a3f".
        let l1 = [
            0x68, 0x41, 0x37, 0x21, 0x12, 0x34, 0x56, 0x78, 0x11, 0x11, 0x11, 0x11, 0x82, b'r',
            b'd', 0x04, b'5', b'a', b'3', b'f',
        ];
        let p = Packet::from_bytes(&l1).unwrap();
        assert_eq!(code_of(&p), CREATED);
        assert_eq!(location_path(&p).unwrap(), ["rd", "5a3f"]);
        assert_eq!(uri_path(&p).unwrap(), Vec::<String>::new());

        // VECTORS §3.2 O1: GET Observe=0 /5/5/1 ?pmin=200&pmax=4200 (token `…` filled in).
        let mut o1 = vec![
            0x48, 0x01, 0x37, 0x21, 0x12, 0x34, 0x56, 0x78, 0x11, 0x11, 0x11, 0x11,
        ];
        o1.extend_from_slice(&[0x61, 0x00, 0x51, b'5', 0x01, b'5', 0x01, b'1', 0x48]);
        o1.extend_from_slice(b"pmin=200");
        o1.push(0x09);
        o1.extend_from_slice(b"pmax=4200");
        let p = Packet::from_bytes(&o1).unwrap();
        assert_eq!(observe(&p), Some(0));
        assert_eq!(uri_path(&p).unwrap(), ["5", "5", "1"]);
        assert_eq!(uri_query(&p).unwrap(), ["pmin=200", "pmax=4200"]);

        // VECTORS §3.2 D2: Accept 320 (`62 0140`).
        let d2 = [
            0x44, 0x01, 0x21, 0x37, 0x12, 0x34, 0x56, 0x78, 0xb1, b'3', 0x01, b'3', 0x02, b'1',
            b'1', 0x02, b'1', b'1', 0x62, 0x01, 0x40,
        ];
        let p = Packet::from_bytes(&d2).unwrap();
        assert_eq!(accept(&p), Some(320));
        assert_eq!(content_format(&p), None);
    }

    #[test]
    fn non_utf8_path_and_oversized_uints_are_rejected() {
        let mut p = new_request(GET, &[], &[]);
        p.add_option(CoapOption::UriPath, vec![0xFF]);
        assert_eq!(uri_path(&p), None);
        p.add_option(CoapOption::ContentFormat, vec![1, 0, 0]);
        assert_eq!(content_format(&p), None);
        p.add_option(CoapOption::Observe, vec![1, 2, 3, 4, 5]);
        assert_eq!(observe(&p), None);
    }

    #[test]
    fn observe_and_location_setters() {
        let mut r = new_response(CREATED);
        add_location_path(&mut r, &["1", "2"]);
        r.header.message_id = 0x2222;
        r.set_token(vec![0x11, 0x22, 0x33]);
        // VECTORS §3.2 P2.
        assert_eq!(
            r.to_bytes().unwrap(),
            [0x63, 0x41, 0x22, 0x22, 0x11, 0x22, 0x33, 0x81, b'1', 0x01, b'2']
        );
        let mut n = new_response(CONTENT);
        set_observe(&mut n, 0x0122_2233);
        assert_eq!(observe(&n), Some(0x22_2233));
    }
}
