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
        let err = || UriError(s.to_string());
        let (scheme, rest) = s.split_once("://").ok_or_else(err)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "coap" => Scheme::Coap,
            "coaps" => Scheme::Coaps,
            "coap+tcp" => Scheme::CoapTcp,
            "coaps+tcp" => Scheme::CoapsTcp,
            _ => return Err(err()),
        };
        // A path after the authority is allowed by RFC 7252 but LwM2M servers live at the root;
        // we keep only the authority.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(err)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(err()),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host.contains(['@', ' ']) {
            return Err(err());
        }
        let port = match port {
            None => scheme.default_port(),
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(err)?
            }
            Some(_) => return Err(err()),
        };
        Ok(ServerUri {
            scheme,
            host: host.to_string(),
            port,
        })
    }
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
}
