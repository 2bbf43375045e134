//! One-line human descriptions of CoAP datagrams, for transcripts (`demo`, the CLI device,
//! test failure messages). Never fails: undecodable input is described as such.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use coap_lite::{MessageType, Packet};

use crate::coap::msg;
use crate::codec::tlv::{self, TlvKind};

/// Describes a datagram: `CON POST /bs?ep=dev mid=0x1a2b`, `ACK 2.05 ct=11542 {R0="ACME", ...}`.
pub fn describe(bytes: &[u8]) -> String {
    let Ok(p) = Packet::from_bytes(bytes) else {
        return format!("undecodable datagram ({} B)", bytes.len());
    };
    let kind = match p.header.get_type() {
        MessageType::Confirmable => "CON",
        MessageType::NonConfirmable => "NON",
        MessageType::Acknowledgement => "ACK",
        MessageType::Reset => "RST",
    };
    let code = msg::code_of(&p);
    let mut s = String::from(kind);
    if code == 0 {
        s.push_str(" (empty)");
    } else if msg::is_request_code(code) {
        s.push(' ');
        s.push_str(method_name(code));
        let path = msg::uri_path(&p).unwrap_or_default();
        s.push_str(&format!(" /{}", path.join("/")));
        let q = msg::uri_query(&p).unwrap_or_default();
        if !q.is_empty() {
            s.push_str(&format!("?{}", q.join("&")));
        }
    } else {
        s.push_str(&format!(" {}", msg::code_string(code)));
        let loc = msg::location_path(&p).unwrap_or_default();
        if !loc.is_empty() {
            s.push_str(&format!(" location=/{}", loc.join("/")));
        }
    }
    if let Some(cf) = msg::content_format(&p) {
        s.push_str(&format!(" ct={}", format_name(cf)));
    }
    if let Some(a) = msg::accept(&p) {
        s.push_str(&format!(" accept={}", format_name(a)));
    }
    if !p.payload.is_empty() {
        s.push(' ');
        s.push_str(&payload_summary(msg::content_format(&p), &p.payload));
    }
    s
}

/// Name of a request method code.
pub fn method_name(code: u8) -> &'static str {
    match code {
        msg::GET => "GET",
        msg::POST => "POST",
        msg::PUT => "PUT",
        msg::DELETE => "DELETE",
        msg::FETCH => "FETCH",
        msg::IPATCH => "iPATCH",
        _ => "?",
    }
}

/// A short name for a Content-Format number ("tlv", "senml+json", ...; others as digits).
pub fn format_name(cf: u16) -> String {
    match cf {
        0 => "text".to_string(),
        40 => "link".to_string(),
        42 => "opaque".to_string(),
        110 => "senml+json".to_string(),
        112 => "senml+cbor".to_string(),
        11542 => "tlv".to_string(),
        11543 => "lwm2m+json".to_string(),
        n => n.to_string(),
    }
}

const MAX_SUMMARY: usize = 160;

fn clip(mut s: String) -> String {
    if s.len() > MAX_SUMMARY {
        let mut cut = MAX_SUMMARY;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// A one-line, clipped rendering of a payload in Content-Format `cf` (TLV decoded, text as is,
/// binary as a size).
pub fn payload_summary(cf: Option<u16>, payload: &[u8]) -> String {
    match cf {
        Some(11542) => clip(tlv_summary(payload)),
        Some(42) => format!("({} B)", payload.len()),
        _ => match core::str::from_utf8(payload) {
            Ok(text) if !text.chars().any(char::is_control) => clip(format!("{text:?}")),
            _ => format!("({} B)", payload.len()),
        },
    }
}

/// A structural TLV dump with guessed value types: `{OI1{R0="coap://..." R1=0 ...}}`.
fn tlv_summary(bytes: &[u8]) -> String {
    fn walk(bytes: &[u8], out: &mut Vec<String>) -> bool {
        let Ok(entries) = tlv::parse_entries(bytes) else {
            return false;
        };
        for e in entries {
            match e.kind {
                TlvKind::ObjectInstance | TlvKind::MultipleResource => {
                    let tag = if e.kind == TlvKind::ObjectInstance {
                        "OI"
                    } else {
                        "R"
                    };
                    let mut inner = Vec::new();
                    if !walk(e.value, &mut inner) {
                        return false;
                    }
                    out.push(format!("{tag}{}{{{}}}", e.id, inner.join(" ")));
                }
                TlvKind::Resource | TlvKind::ResourceInstance => {
                    let tag = if e.kind == TlvKind::Resource { "R" } else { "" };
                    out.push(format!("{tag}{}={}", e.id, guess_value(e.value)));
                }
            }
        }
        true
    }
    let mut parts = Vec::new();
    if walk(bytes, &mut parts) {
        format!("{{{}}}", parts.join(" "))
    } else {
        format!("(malformed TLV, {} B)", bytes.len())
    }
}

fn guess_value(v: &[u8]) -> String {
    if v.len() > 1 {
        if let Ok(s) = core::str::from_utf8(v) {
            if s.chars().all(|c| !c.is_control()) {
                return format!("{s:?}");
            }
        }
    }
    match tlv::decode_integer(v) {
        Ok(i) if !v.is_empty() => i.to_string(),
        _ if v.is_empty() => "''".to_string(),
        _ => format!(
            "0x{}",
            v.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    fn hex(s: &str) -> alloc::vec::Vec<u8> {
        let s: alloc::string::String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn describes_vectors() {
        // VECTORS §3.2 B1 and L1.
        let b1 = hex("48 02 00 04 0000000000000000 b2 6273 47 65703d6e616d65 06 7063743d3630");
        assert_eq!(describe(&b1), "CON POST /bs?ep=name&pct=60");
        let l1 = hex("68 41 3721 1234567811111111 82 7264 04 35613366");
        assert_eq!(describe(&l1), "ACK 2.01 location=/rd/5a3f");
        assert_eq!(describe(&hex("40 00 0000")), "CON (empty)");
        assert_eq!(describe(&[0x40]), "undecodable datagram (1 B)");
        // A Bootstrap-Write of /1/0 (VECTORS §5).
        let mut w = hex("48 03 0001 0102030405060708 b1 31 01 30 12 2d16 ff");
        w.extend(hex("08000dc1007bc201012cc10600c10755"));
        assert_eq!(
            describe(&w),
            "CON PUT /1/0 ct=tlv {OI0{R0=123 R1=300 R6=0 R7=85}}"
        );
    }
}
