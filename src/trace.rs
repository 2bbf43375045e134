//! One-line human descriptions of CoAP datagrams, for transcripts (`demo`, the CLI device,
//! test failure messages, the C and Python log hooks). Never fails: undecodable input is
//! described as such.
//!
//! Never prints a secret: the values of the Security object's key resources (`/0/x/3` public
//! key or identity, `/0/x/4` server public key, `/0/x/5` secret key) are replaced by their
//! size, as `R5=<redacted 16 B>`. A trace sees only bytes, so it goes by what they say: in a
//! request whose Uri-Path starts with `0`, TLV resources 3, 4 and 5 are redacted, a payload in
//! any other format that is not SenML JSON is shown as its size (unless the path names a
//! Security resource other than those), and in SenML JSON (any message) every record whose
//! name is `/0/x/3`, `/0/x/4` or `/0/x/5` has its value redacted.

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
    let mut request_path = None;
    if code == 0 {
        s.push_str(" (empty)");
    } else if msg::is_request_code(code) {
        s.push(' ');
        s.push_str(method_name(code));
        let path = msg::uri_path(&p).unwrap_or_default();
        s.push_str(&format!(" /{}", path.join("/")));
        request_path = Some(path);
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
        s.push_str(&summary_at(
            request_path.as_deref(),
            msg::content_format(&p),
            &p.payload,
        ));
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
/// binary as a size), of a message whose Uri-Path is unknown (a response): Security keys in
/// SenML JSON records are redacted (see the module documentation).
pub fn payload_summary(cf: Option<u16>, payload: &[u8]) -> String {
    summary_at(None, cf, payload)
}

/// The resources of the Security object whose values are never printed.
const SECRET_RESOURCES: [u16; 3] = [3, 4, 5];

/// What a Uri-Path says about secrets in the payload.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Not the Security object.
    Other,
    /// `/0` or `/0/x`: the payload may hold key resources among others.
    Security,
    /// `/0/x/r` with `r` a key resource: the payload is that value.
    SecretResource,
    /// `/0/x/r` with `r` another Security resource.
    PlainSecurityResource,
}

fn scope_of(path: Option<&[String]>) -> Scope {
    let Some(path) = path else {
        return Scope::Other;
    };
    match path {
        [o, ..] if o != "0" => Scope::Other,
        [] => Scope::Other,
        [_] | [_, _] => Scope::Security,
        [_, _, r, ..] => match r.parse::<u16>() {
            Ok(r) if !SECRET_RESOURCES.contains(&r) => Scope::PlainSecurityResource,
            _ => Scope::SecretResource,
        },
    }
}

fn redacted(len: usize) -> String {
    format!("<redacted {len} B>")
}

/// `payload_summary` for a message whose Uri-Path is `path` (`None` for a response).
fn summary_at(path: Option<&[String]>, cf: Option<u16>, payload: &[u8]) -> String {
    let scope = scope_of(path);
    match (scope, cf) {
        (Scope::SecretResource, _) => redacted(payload.len()),
        (_, Some(11542)) => clip(tlv_summary(payload, scope == Scope::Security)),
        (_, Some(110)) => clip(senml_json_summary(path, scope != Scope::Other, payload)),
        // Formats this module does not take apart may carry the keys: only their size.
        (Scope::Security, _) => redacted(payload.len()),
        (_, Some(42 | 112)) => format!("({} B)", payload.len()),
        _ => match core::str::from_utf8(payload) {
            Ok(text) if !text.chars().any(char::is_control) => clip(format!("{text:?}")),
            _ => format!("({} B)", payload.len()),
        },
    }
}

/// SenML JSON as its text, with the values of records named `/0/x/3`, `/0/x/4` or `/0/x/5`
/// replaced (a pack that does not parse is shown as its size when it may hold keys).
#[cfg(feature = "json")]
fn senml_json_summary(path: Option<&[String]>, security_path: bool, payload: &[u8]) -> String {
    use base64::Engine as _;
    use serde_json::Value as Json;
    let Ok(mut pack) = serde_json::from_slice::<Json>(payload) else {
        return match core::str::from_utf8(payload) {
            Ok(text) if !security_path && !text.contains("\"/0") && !text.contains("\"0/") => {
                format!("{text:?}")
            }
            _ => redacted(payload.len()),
        };
    };
    let mut changed = false;
    let mut base = String::new();
    if let Json::Array(records) = &mut pack {
        for record in records.iter_mut() {
            let Json::Object(fields) = record else {
                continue;
            };
            if let Some(Json::String(bn)) = fields.get("bn") {
                base.clone_from(bn);
            }
            let mut name = base.clone();
            if let Some(Json::String(n)) = fields.get("n") {
                name.push_str(n);
            }
            if !senml_name_is_secret(path, security_path, &name) {
                continue;
            }
            for (key, value) in fields.iter_mut() {
                if !matches!(key.as_str(), "v" | "vs" | "vb" | "vd" | "vlo" | "s") {
                    continue;
                }
                let size = match &*value {
                    Json::String(text) if key == "vd" => BASE64_URL
                        .decode(text.as_bytes())
                        .map_or(text.len(), |b| b.len()),
                    Json::String(text) => text.len(),
                    other => other.to_string().len(),
                };
                *value = Json::String(redacted(size));
                changed = true;
            }
        }
    } else if security_path {
        return redacted(payload.len());
    }
    let text = if changed {
        pack.to_string()
    } else {
        String::from_utf8_lossy(payload).into_owned()
    };
    format!("{text:?}")
}

/// SenML `vd` is base64url (RFC 8428 §4.3), padding tolerated: for the size of a redacted one.
#[cfg(feature = "json")]
const BASE64_URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Without the JSON codec a SenML JSON pack cannot be taken apart: only its size.
#[cfg(not(feature = "json"))]
fn senml_json_summary(_path: Option<&[String]>, _security_path: bool, payload: &[u8]) -> String {
    format!("({} B)", payload.len())
}

/// Whether a SenML record named `name` (base name applied) holds a Security key. Names are
/// absolute paths; one that is not (the device refuses it) counts as relative to the request's
/// Uri-Path, and one that does not parse counts as a key on a Security path.
#[cfg(feature = "json")]
fn senml_name_is_secret(path: Option<&[String]>, security_path: bool, name: &str) -> bool {
    let mut segments: Vec<&str> = Vec::new();
    if !name.starts_with('/') {
        if let Some(path) = path {
            segments.extend(path.iter().map(String::as_str));
        }
    }
    segments.extend(name.split('/').filter(|s| !s.is_empty()));
    match segments.as_slice() {
        ["0", _, r, ..] => r
            .parse::<u16>()
            .map_or(true, |r| SECRET_RESOURCES.contains(&r)),
        [o, ..] if o.parse::<u16>().is_ok() => false,
        _ => security_path,
    }
}

/// A structural TLV dump with guessed value types: `{OI1{R0="coap://..." R1=0 ...}}`. With
/// `security`, the values of resources 3, 4 and 5 are redacted.
fn tlv_summary(bytes: &[u8], security: bool) -> String {
    fn walk(bytes: &[u8], security: bool, out: &mut Vec<String>) -> bool {
        let Ok(entries) = tlv::parse_entries(bytes) else {
            return false;
        };
        for e in entries {
            let secret = security
                && matches!(e.kind, TlvKind::Resource | TlvKind::MultipleResource)
                && SECRET_RESOURCES.contains(&e.id);
            if secret {
                out.push(format!("R{}={}", e.id, redacted(e.value.len())));
                continue;
            }
            match e.kind {
                TlvKind::ObjectInstance | TlvKind::MultipleResource => {
                    let tag = if e.kind == TlvKind::ObjectInstance {
                        "OI"
                    } else {
                        "R"
                    };
                    let mut inner = Vec::new();
                    if !walk(e.value, security, &mut inner) {
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
    if walk(bytes, security, &mut parts) {
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

    /// One TLV entry with an 8-bit identifier: `kind` is 0x00 (Object Instance) or 0xC0
    /// (Resource with a value).
    fn tlv(kind: u8, id: u8, value: &[u8]) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::new();
        match u8::try_from(value.len()) {
            Ok(n) if n < 8 => out.extend([kind | n, id]),
            Ok(n) => out.extend([kind | 0x08, id, n]),
            Err(_) => panic!("test TLV values are short"),
        }
        out.extend_from_slice(value);
        out
    }

    fn request(code: u8, path: &[&str], cf: Option<u16>, payload: &[u8]) -> alloc::vec::Vec<u8> {
        let mut p = crate::coap::msg::new_request(code, path, &[]);
        if let Some(cf) = cf {
            crate::coap::msg::set_content_format(&mut p, cf);
        }
        p.payload = payload.to_vec();
        p.to_bytes().unwrap()
    }

    const PSK: &[u8] = b"0123456789abcdef";
    const PSK_ID: &[u8] = b"dev-identity";

    #[test]
    fn a_tlv_bootstrap_write_of_a_psk_account_hides_the_keys() {
        let mut body = alloc::vec::Vec::new();
        body.extend(tlv(0xC0, 0, b"coaps://bs"));
        body.extend(tlv(0xC0, 1, &[0]));
        body.extend(tlv(0xC0, 2, &[0]));
        body.extend(tlv(0xC0, 3, PSK_ID));
        body.extend(tlv(0xC0, 4, b""));
        body.extend(tlv(0xC0, 5, PSK));
        body.extend(tlv(0xC0, 10, &[1]));
        let w = request(
            crate::coap::msg::PUT,
            &["0", "1"],
            Some(11542),
            &tlv(0x00, 1, &body),
        );
        assert_eq!(
            describe(&w),
            "CON PUT /0/1 ct=tlv {OI1{R0=\"coaps://bs\" R1=0 R2=0 R3=<redacted 12 B> \
             R4=<redacted 0 B> R5=<redacted 16 B> R10=1}}"
        );
        // The same resources outside the Security object are shown (here /1/1: R3, R5 are
        // the Server's periods), and the bare-resource form of /0/1 is redacted too.
        let plain = request(
            crate::coap::msg::PUT,
            &["1", "1"],
            Some(11542),
            &tlv(0xC0, 5, b"xy"),
        );
        assert_eq!(describe(&plain), "CON PUT /1/1 ct=tlv {R5=\"xy\"}");
        let bare = request(
            crate::coap::msg::PUT,
            &["0", "1"],
            Some(11542),
            &tlv(0xC0, 5, PSK),
        );
        assert_eq!(describe(&bare), "CON PUT /0/1 ct=tlv {R5=<redacted 16 B>}");
    }

    #[test]
    fn a_senml_json_bootstrap_write_of_a_psk_account_hides_the_keys() {
        let pack = br#"[{"bn":"/0/1/","n":"0","vs":"coaps://bs"},{"n":"3","vd":"ZGV2LWlkZW50aXR5"},{"n":"5","vd":"MDEyMzQ1Njc4OWFiY2RlZg"}]"#;
        let w = request(crate::coap::msg::PUT, &["0", "1"], Some(110), pack);
        assert_eq!(
            describe(&w),
            r#"CON PUT /0/1 ct=senml+json "[{\"bn\":\"/0/1/\",\"n\":\"0\",\"vs\":\"coaps://bs\"},{\"n\":\"3\",\"vd\":\"<redacted 12 B>\"},{\"n\":\"5\",\"vd\":\"<redacted 16 B>\"}]""#
        );
        // A pack naming /0/x/5 is redacted wherever it goes (here a response: no Uri-Path).
        assert_eq!(
            super::payload_summary(
                Some(110),
                br#"[{"bn":"/0/2/5","vd":"MDEyMzQ1Njc4OWFiY2RlZg"}]"#
            ),
            r#""[{\"bn\":\"/0/2/5\",\"vd\":\"<redacted 16 B>\"}]""#
        );
        // Other objects' packs are shown as they are.
        let dev = br#"[{"bn":"/3/0/","n":"5","vs":"x"}]"#;
        assert_eq!(
            super::payload_summary(Some(110), dev),
            r#""[{\"bn\":\"/3/0/\",\"n\":\"5\",\"vs\":\"x\"}]""#
        );
    }

    #[test]
    fn other_formats_on_security_paths_show_only_a_size() {
        let put = |path: &[&str], cf: u16, payload: &[u8]| {
            describe(&request(crate::coap::msg::PUT, path, Some(cf), payload))
        };
        assert_eq!(
            put(&["0", "1", "5"], 42, PSK),
            "CON PUT /0/1/5 ct=opaque <redacted 16 B>"
        );
        assert_eq!(
            put(&["0", "1", "3"], 0, PSK_ID),
            "CON PUT /0/1/3 ct=text <redacted 12 B>"
        );
        assert_eq!(
            put(&["0", "1"], 11543, b"{}"),
            "CON PUT /0/1 ct=lwm2m+json <redacted 2 B>"
        );
        // Security resources other than the keys are shown.
        assert_eq!(
            put(&["0", "1", "0"], 0, b"coaps://bs"),
            "CON PUT /0/1/0 ct=text \"coaps://bs\""
        );
        assert_eq!(
            put(&["3", "0", "5"], 0, b"abc"),
            "CON PUT /3/0/5 ct=text \"abc\""
        );
    }
}
