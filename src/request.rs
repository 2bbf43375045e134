//! An incoming request reduced to what the LwM2M layers look at, and the reply they produce.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use coap_lite::Packet;

use crate::coap::endpoint::Head;
use crate::coap::message::{option, Message};
use crate::coap::{msg, wire};
use crate::codec::ContentFormat;
use crate::path::{Path, PathError};

/// A server's request, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: u8,
    /// The Uri-Path as an LwM2M path, parsed once: no segment is kept as a `String`.
    pub path: Result<Path, PathError>,
    /// Whether the Uri-Path is exactly `bs` (Bootstrap-Finish's target).
    pub bs: bool,
    pub queries: Vec<String>,
    pub content_format: Option<u16>,
    pub accept: Option<u16>,
    pub observe: Option<u32>,
    pub payload: Vec<u8>,
}

impl Request {
    /// `None` when an option is not valid UTF-8 (the caller answers 4.00).
    pub(crate) fn parse(p: &Message<'_>) -> Option<Request> {
        // One pass over the Uri-Path: each segment checked as UTF-8 (RFC 7252 §5.10.1: they
        // are strings), added to the path, and `/bs` recognised.
        let mut path = Ok(Path::ROOT);
        let (mut count, mut first) = (0usize, None);
        for value in p.option(option::URI_PATH) {
            count += 1;
            // The usual segment is an ID: ASCII digits, valid UTF-8 without checking.
            if let Some(id) = crate::path::id_of(value) {
                path = path.and_then(|at: Path| at.child(id).ok_or(PathError::TooLong));
                continue;
            }
            let segment = core::str::from_utf8(value).ok()?;
            first = first.or(Some(segment));
            path = path.and_then(|at: Path| at.with_segment(segment));
        }
        let bs = count == 1 && first == Some("bs");
        let queries = p
            .option(option::URI_QUERY)
            .map(|v| core::str::from_utf8(v).ok().map(String::from))
            .collect::<Option<Vec<String>>>()?;
        let format = |number| p.uint_option(number).and_then(|v| u16::try_from(v).ok());
        Some(Request {
            method: p.code(),
            path,
            bs,
            queries,
            content_format: format(option::CONTENT_FORMAT),
            accept: format(option::ACCEPT),
            observe: p.uint_option(option::OBSERVE),
            payload: p.payload().to_vec(),
        })
    }

    /// The same for a request held as a `Packet` (the testkit servers' Block1 reassembly):
    /// encoded again and read in place.
    #[cfg(feature = "testkit")]
    pub(crate) fn parse_packet(p: &Packet) -> Option<Request> {
        let bytes = p.to_bytes_unlimited().ok()?;
        let header = wire::read_header(&bytes)?;
        Request::parse(&Message::parse(&bytes, header)?)
    }

    /// The LwM2M path the request targets.
    pub(crate) fn path(&self) -> Result<Path, PathError> {
        self.path.clone()
    }

    /// The format of the payload (Content-Format negotiation, incoming side, in one place):
    /// Core 1.1 §5.2.7.4 and §5.4.3 make Content-Format mandatory on a write (4.00 without
    /// it); one this build cannot decode is 4.15 Unsupported Content-Format.
    pub(crate) fn payload_format(&self) -> Result<ContentFormat, Reply> {
        let Some(cf) = self.content_format else {
            return Err(Reply::error(
                msg::BAD_REQUEST,
                "Content-Format is mandatory",
            ));
        };
        match ContentFormat::from_code(cf) {
            Some(f) if f.can_decode() => Ok(f),
            _ => Err(Reply::error(
                msg::UNSUPPORTED_CONTENT_FORMAT,
                alloc::format!("format {cf}"),
            )),
        }
    }

    /// The format to answer in (outgoing side): the Accept if this build encodes it and
    /// `allowed` admits it, else 4.06 Not Acceptable; without Accept, `default` (the client's
    /// choice, Core 1.1 §7.1).
    pub(crate) fn answer_format(
        &self,
        allowed: impl Fn(ContentFormat) -> bool,
        default: ContentFormat,
    ) -> Result<ContentFormat, Reply> {
        let Some(code) = self.accept else {
            return Ok(default);
        };
        match ContentFormat::from_code(code) {
            Some(f) if f.can_encode() && allowed(f) => Ok(f),
            _ => Err(Reply::error(
                msg::NOT_ACCEPTABLE,
                alloc::format!("cannot answer in format {code}"),
            )),
        }
    }

    /// True for `/bs` (Bootstrap-Finish target).
    pub(crate) fn is_bs(&self) -> bool {
        self.bs
    }
}

/// What the client answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: u8,
    pub content_format: Option<u16>,
    pub payload: Vec<u8>,
    /// Location-Path segments (2.01 Created).
    pub location: Vec<String>,
    /// Size1 (RFC 7959 §4): with 4.13, the largest request payload accepted.
    pub size1: Option<u32>,
    /// The Observe option (RFC 7641 §3.2): the sequence number of an Observe response.
    pub observe: Option<u32>,
}

impl Reply {
    pub(crate) fn code(code: u8) -> Reply {
        Reply {
            code,
            content_format: None,
            payload: Vec::new(),
            location: Vec::new(),
            size1: None,
            observe: None,
        }
    }

    pub(crate) fn content(content_format: u16, payload: Vec<u8>) -> Reply {
        Reply {
            code: msg::CONTENT,
            content_format: Some(content_format),
            payload,
            location: Vec::new(),
            size1: None,
            observe: None,
        }
    }

    /// An error with a diagnostic payload (RFC 7252 §5.5.2: UTF-8 text, no Content-Format).
    pub(crate) fn error(code: u8, diagnostic: impl ToString) -> Reply {
        Reply {
            code,
            content_format: None,
            payload: diagnostic.to_string().into_bytes(),
            location: Vec::new(),
            size1: None,
            observe: None,
        }
    }

    /// The reply written straight into its datagram, under the `head` the endpoint chose:
    /// the bytes [`into_packet`](Self::into_packet) and coap-lite would make, without building
    /// a `Packet` (issue 15: that was a third of a Read). Options in ascending number (RFC 7252
    /// §3.1): Observe (6), Location-Path (8), Content-Format (12), Size1 (60). Appended to
    /// `out` (the endpoint's outbox); nothing is appended (nothing sent) if an option cannot be
    /// encoded, which only a Location-Path segment of 64 KiB could cause.
    pub(crate) fn encode_into(&self, head: Head<'_>, out: &mut Vec<u8>) {
        let start = out.len();
        let options: usize = 3 * 7 + self.location.iter().map(|s| s.len() + 3).sum::<usize>();
        out.reserve(4 + head.token.len() + options + 1 + self.payload.len());
        wire::put_header(out, head.ty, self.code, head.mid, head.token);
        let mut options = Options { out, last: 0 };
        let written = (|| {
            if let Some(seq) = self.observe {
                options.uint(6, seq)?;
            }
            for segment in &self.location {
                options.put(8, segment.as_bytes())?;
            }
            if let Some(cf) = self.content_format {
                options.uint(12, u32::from(cf))?;
            }
            if let Some(size) = self.size1 {
                options.uint(60, size)?;
            }
            Some(())
        })();
        match written {
            Some(()) => wire::put_payload(out, &self.payload),
            None => out.truncate(start),
        }
    }

    /// [`encode_into`](Self::encode_into) a datagram of its own.
    #[cfg(test)]
    pub(crate) fn encode(&self, head: Head<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(head, &mut out);
        out
    }

    pub(crate) fn into_packet(self) -> Packet {
        let mut p = msg::new_response(self.code);
        if let Some(cf) = self.content_format {
            msg::set_content_format(&mut p, cf);
        }
        if !self.location.is_empty() {
            let segs: Vec<&str> = self.location.iter().map(String::as_str).collect();
            msg::add_location_path(&mut p, &segs);
        }
        if let Some(seq) = self.observe {
            msg::set_observe(&mut p, seq);
        }
        if let Some(size) = self.size1 {
            p.add_option(coap_lite::CoapOption::Size1, msg::encode_uint(size));
        }
        p.payload = self.payload;
        p
    }

    /// 4.13 Request Entity Too Large, naming the limit in Size1 (RFC 7959 §2.9.3).
    pub(crate) fn too_large(limit: usize) -> Reply {
        let mut r = Reply::error(
            msg::REQUEST_ENTITY_TOO_LARGE,
            alloc::format!("payload over {limit} bytes"),
        );
        r.size1 = Some(u32::try_from(limit).unwrap_or(u32::MAX));
        r
    }

    pub(crate) fn is_success(&self) -> bool {
        self.code >> 5 == 2
    }
}

/// Options being appended to a message, in ascending number.
struct Options<'a> {
    out: &'a mut Vec<u8>,
    last: u16,
}

impl Options<'_> {
    fn put(&mut self, number: u16, value: &[u8]) -> Option<()> {
        wire::put_option(self.out, self.last, number, value)?;
        self.last = number;
        Some(())
    }

    fn uint(&mut self, number: u16, value: u32) -> Option<()> {
        let (bytes, len) = wire::uint_value(value);
        self.put(number, bytes.get(4 - len..).unwrap_or_default())
    }
}

#[cfg(test)]
mod encode_tests {
    use super::*;

    /// Every combination of the options a reply can carry, with and without payload, tokens of
    /// 0 and 8 bytes, ACK and NON: the direct encoding equals coap-lite's of `into_packet`.
    #[test]
    fn encode_writes_the_bytes_coap_lite_would() {
        let payloads: [&[u8]; 3] = [b"", b"+01:00", &[7u8; 300]];
        let mut checked = 0;
        for code in [
            msg::CONTENT,
            msg::CREATED,
            msg::NOT_FOUND,
            msg::REQUEST_ENTITY_TOO_LARGE,
        ] {
            for payload in payloads {
                for cf in [None, Some(0), Some(40), Some(11542), Some(65535)] {
                    for observe in [None, Some(0), Some(1), Some(0x1_0000), Some(0xFF_FFFF)] {
                        for (location, size1) in [
                            (vec![], None),
                            (vec!["3".to_string(), "12".to_string()], Some(1024)),
                            (vec!["x".repeat(20)], Some(0)),
                        ] {
                            let reply = Reply {
                                code,
                                content_format: cf,
                                payload: payload.to_vec(),
                                location,
                                size1,
                                observe,
                            };
                            for (ty, mt, token) in [
                                (wire::ACK, coap_lite::MessageType::Acknowledgement, &[][..]),
                                (
                                    wire::NON,
                                    coap_lite::MessageType::NonConfirmable,
                                    &[1, 2, 3, 4, 5, 6, 7, 8][..],
                                ),
                            ] {
                                let mid = 0xBEEF;
                                let mut p = reply.clone().into_packet();
                                p.header.set_version(1);
                                p.header.set_type(mt);
                                p.header.message_id = mid;
                                p.set_token(token.to_vec());
                                let theirs = p.to_bytes_unlimited().unwrap();
                                let ours = reply.encode(Head { ty, mid, token });
                                assert_eq!(ours, theirs, "{reply:?}");
                                assert!(ours.capacity() >= ours.len());
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 4 * 3 * 5 * 5 * 3 * 2);
    }
}

#[cfg(test)]
mod negotiation_tests {
    use super::*;

    fn request(content_format: Option<u16>, accept: Option<u16>) -> Request {
        Request {
            method: msg::PUT,
            path: Ok(Path::ROOT),
            bs: false,
            queries: Vec::new(),
            content_format,
            accept,
            observe: None,
            payload: Vec::new(),
        }
    }

    #[test]
    fn payload_format_needs_a_decodable_content_format() {
        assert_eq!(
            request(Some(11542), None).payload_format(),
            Ok(ContentFormat::Tlv)
        );
        assert_eq!(
            request(None, None).payload_format().unwrap_err().code,
            msg::BAD_REQUEST
        );
        for cf in [40, 1234] {
            assert_eq!(
                request(Some(cf), None).payload_format().unwrap_err().code,
                msg::UNSUPPORTED_CONTENT_FORMAT,
                "{cf}"
            );
        }
    }

    #[test]
    fn answer_format_honours_accept_or_answers_4_06() {
        let any = |_| true;
        let tlv_only = |f| f == ContentFormat::Tlv;
        let text = ContentFormat::Text;
        assert_eq!(request(None, None).answer_format(any, text), Ok(text));
        assert_eq!(
            request(None, Some(11542)).answer_format(tlv_only, text),
            Ok(ContentFormat::Tlv)
        );
        let refused = request(None, Some(0)).answer_format(tlv_only, text);
        assert_eq!(refused.unwrap_err().code, msg::NOT_ACCEPTABLE);
        let unknown = request(None, Some(65000)).answer_format(any, text);
        assert_eq!(unknown.unwrap_err().code, msg::NOT_ACCEPTABLE);
    }
}
