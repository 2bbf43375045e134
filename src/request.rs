//! An incoming request reduced to what the LwM2M layers look at, and the reply they produce.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use coap_lite::Packet;

use crate::coap::msg;
use crate::path::{Path, PathError};

/// A server's request, parsed once.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: u8,
    pub segments: Vec<String>,
    pub queries: Vec<String>,
    pub content_format: Option<u16>,
    pub accept: Option<u16>,
    pub observe: Option<u32>,
    pub payload: Vec<u8>,
}

impl Request {
    /// `None` when an option is not valid UTF-8 (the caller answers 4.00).
    pub fn parse(p: &Packet) -> Option<Request> {
        Some(Request {
            method: msg::code_of(p),
            segments: msg::uri_path(p)?,
            queries: msg::uri_query(p)?,
            content_format: msg::content_format(p),
            accept: msg::accept(p),
            observe: msg::observe(p),
            payload: p.payload.clone(),
        })
    }

    /// The LwM2M path the request targets.
    pub fn path(&self) -> Result<Path, PathError> {
        Path::from_segments(self.segments.iter().map(String::as_str))
    }

    /// True for `/bs` (Bootstrap-Finish target).
    pub fn is_bs(&self) -> bool {
        self.segments.len() == 1 && self.segments.first().is_some_and(|s| s == "bs")
    }

    /// A short human form for transcripts: `PUT /0/1 ct=11542 (39 B)`.
    pub fn summary(&self) -> String {
        let mut s = alloc::format!(
            "{} /{}",
            crate::trace::method_name(self.method),
            self.segments.join("/")
        );
        if let Some(cf) = self.content_format {
            s.push_str(&alloc::format!(" ct={cf}"));
        }
        if let Some(a) = self.accept {
            s.push_str(&alloc::format!(" accept={a}"));
        }
        if !self.payload.is_empty() {
            s.push_str(&alloc::format!(" ({} B)", self.payload.len()));
        }
        s
    }
}

/// What the client answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u8,
    pub content_format: Option<u16>,
    pub payload: Vec<u8>,
    /// Location-Path segments (2.01 Created).
    pub location: Vec<String>,
}

impl Reply {
    pub fn code(code: u8) -> Reply {
        Reply {
            code,
            content_format: None,
            payload: Vec::new(),
            location: Vec::new(),
        }
    }

    pub fn content(content_format: u16, payload: Vec<u8>) -> Reply {
        Reply {
            code: msg::CONTENT,
            content_format: Some(content_format),
            payload,
            location: Vec::new(),
        }
    }

    /// An error with a diagnostic payload (RFC 7252 §5.5.2: UTF-8 text, no Content-Format).
    pub fn error(code: u8, diagnostic: impl ToString) -> Reply {
        Reply {
            code,
            content_format: None,
            payload: diagnostic.to_string().into_bytes(),
            location: Vec::new(),
        }
    }

    pub fn into_packet(self) -> Packet {
        let mut p = msg::new_response(self.code);
        if let Some(cf) = self.content_format {
            msg::set_content_format(&mut p, cf);
        }
        if !self.location.is_empty() {
            let segs: Vec<&str> = self.location.iter().map(String::as_str).collect();
            msg::add_location_path(&mut p, &segs);
        }
        p.payload = self.payload;
        p
    }

    pub fn is_success(&self) -> bool {
        self.code >> 5 == 2
    }
}
