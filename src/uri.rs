//! LwM2M Server URIs (`/0/x/0`): `coap://host:port` and friends (RFC 7252 §6).

use alloc::string::{String, ToString};
use core::fmt;

/// The transports a Server URI can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `coap`: CoAP over UDP (RFC 7252 §6.1).
    Coap,
    /// `coaps`: CoAP over DTLS (RFC 7252 §6.2).
    Coaps,
    /// `coap+tcp`: CoAP over TCP (RFC 8323 §8.1).
    CoapTcp,
    /// `coaps+tcp`: CoAP over TLS (RFC 8323 §8.2).
    CoapsTcp,
}

impl Scheme {
    /// The port used when the URI gives none: 5683 without security, 5684 with DTLS or TLS
    /// (RFC 7252 §6.1–§6.2, RFC 8323 §8.1–§8.2).
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Coap | Scheme::CoapTcp => 5683,
            Scheme::Coaps | Scheme::CoapsTcp => 5684,
        }
    }
    /// The scheme as written in a URI, lowercase (`coap`, `coaps`, `coap+tcp`, `coaps+tcp`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Coap => "coap",
            Scheme::Coaps => "coaps",
            Scheme::CoapTcp => "coap+tcp",
            Scheme::CoapsTcp => "coaps+tcp",
        }
    }
    /// Whether this library can carry the scheme itself (UDP; DTLS is the host's job).
    pub const fn is_udp(self) -> bool {
        matches!(self, Scheme::Coap | Scheme::Coaps)
    }
}

/// A parsed Server URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerUri {
    /// The URI scheme, which names the transport.
    pub scheme: Scheme,
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    /// The port from the URI, or the scheme's default port; never 0.
    pub port: u16,
}

/// A string that is not a usable Server URI; carries the string as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid server URI {0:?}")]
pub struct UriError(pub String);

impl ServerUri {
    /// Parses `scheme://host[:port][/...]` (scheme case-insensitive, IPv6 hosts in brackets).
    /// Anything after the authority is dropped; user info, an empty host or a port outside
    /// 1..=65535 is an error.
    pub fn parse(s: &str) -> Result<ServerUri, UriError> {
        // The error carries a copy of `s`: built here only, never on the way to success.
        let (scheme, host, port) = split(s).ok_or_else(|| UriError(s.to_string()))?;
        Ok(ServerUri {
            scheme,
            host: host.to_string(),
            port,
        })
    }

    /// Whether `s` parses, without building the `ServerUri` (Bootstrap-Finish checks every
    /// `/0/x/0` this way).
    pub(crate) fn is_valid(s: &str) -> bool {
        split(s).is_some()
    }
}

/// The scheme, host and port of a Server URI, borrowed from it: `ServerUri::parse` without
/// allocating. Asked for every account on every bootstrap (issue 15), hence byte searches
/// rather than string patterns.
fn split(s: &str) -> Option<(Scheme, &str, u16)> {
    // No scheme holds a ':', so the first one must open "://" (splitting at the first "://"
    // would leave a scheme with a ':' in it, which is no scheme either).
    let colon = s.bytes().position(|b| b == b':')?;
    let (scheme, rest) = s.split_at_checked(colon)?;
    let rest = rest.strip_prefix("://")?;
    let scheme = [
        Scheme::Coap,
        Scheme::Coaps,
        Scheme::CoapTcp,
        Scheme::CoapsTcp,
    ]
    .into_iter()
    .find(|known| scheme.eq_ignore_ascii_case(known.as_str()))?;
    // A path after the authority is allowed by RFC 7252 but LwM2M servers live at the root;
    // we keep only the authority. One pass finds its end and its last ':'. User info ('@')
    // or a space anywhere in it is an error: in the host it is refused as such, in the port
    // it is not a digit.
    let mut end = rest.len();
    let mut last_colon = None;
    for (i, b) in rest.bytes().enumerate() {
        match b {
            b'/' | b'?' | b'#' => {
                end = i;
                break;
            }
            b':' => last_colon = Some(i),
            b'@' | b' ' => return None,
            _ => {}
        }
    }
    let authority = rest.get(..end)?;
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return None,
        };
        (host, port)
    } else {
        match last_colon {
            Some(at) => (authority.get(..at)?, Some(authority.get(at + 1..)?)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None => scheme.default_port(),
        Some(p) => port_number(p)?,
    };
    Some((scheme, host, port))
}

/// A port written in decimal digits only (no sign, leading zeros allowed), in 1..=65535.
fn port_number(p: &str) -> Option<u16> {
    if p.is_empty() {
        return None;
    }
    let mut port: u16 = 0;
    for b in p.bytes() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        port = port.checked_mul(10)?.checked_add(u16::from(digit))?;
    }
    (port != 0).then_some(port)
}

impl fmt::Display for ServerUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(
                f,
                "{}://[{}]:{}",
                self.scheme.as_str(),
                self.host,
                self.port
            )
        } else {
            write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let u = ServerUri::parse("coap://127.0.0.1:5783").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::Coap, "127.0.0.1", 5783)
        );
        let u = ServerUri::parse("coaps://leshan.example.org").unwrap();
        assert_eq!((u.scheme, u.port), (Scheme::Coaps, 5684));
        let u = ServerUri::parse("coap://[::1]:6000/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 6000));
        assert_eq!(u.to_string(), "coap://[::1]:6000");
        let u = ServerUri::parse("COAP://h").unwrap();
        assert_eq!(u.port, 5683);
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "coap:/x",
            "http://h",
            "coap://",
            "coap://h:",
            "coap://h:0",
            "coap://h:70000",
            "coap://h:1x",
            "coap://[::1",
            "coap://[::1]x",
        ] {
            assert!(ServerUri::parse(s).is_err(), "{s}");
        }
    }

    /// Edges of the byte-wise scan (issue 15), as the `split_once("://")` and lowercase-copy
    /// parser had them; `is_valid` agrees with `parse` on each.
    #[test]
    fn edges_of_the_scan() {
        let ok = [
            ("CoAps+TCP://h", Scheme::CoapsTcp, "h", 5684),
            ("coap+tcp://h:1", Scheme::CoapTcp, "h", 1),
            ("coap://h:00080/x:y://z", Scheme::Coap, "h", 80),
            ("coap://h?a=b:c", Scheme::Coap, "h", 5683),
            ("coap://h#f", Scheme::Coap, "h", 5683),
            ("coaps://[fe80::1]", Scheme::Coaps, "fe80::1", 5684),
            ("coap://hé:7", Scheme::Coap, "hé", 7),
            // Unbracketed, the last ':' is the port's, as before.
            ("coap://::1", Scheme::Coap, ":", 1),
        ];
        for (s, scheme, host, port) in ok {
            let u = ServerUri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(
                (u.scheme, u.host.as_str(), u.port),
                (scheme, host, port),
                "{s}"
            );
            assert!(ServerUri::is_valid(s), "{s}");
        }
        let bad = [
            "coap:x://h",
            "://h",
            "coapx://h",
            "co:ap://h",
            "cöap://h",
            "coap//h",
            "coap://user@h",
            "coap://h h",
            "coap:///x",
            "coap://[]:5683",
            "coap://[::1]:",
            "coap://h:-1",
            "coap://h:+5",
        ];
        for s in bad {
            assert_eq!(ServerUri::parse(s), Err(UriError(s.to_string())), "{s}");
            assert!(!ServerUri::is_valid(s), "{s}");
        }
    }
}
