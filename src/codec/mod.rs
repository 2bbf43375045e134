//! Payload formats: LwM2M TLV, plain text, opaque, CoRE link format, and (features `json`,
//! `cbor`) SenML JSON / SenML CBOR / legacy LwM2M JSON.
//!
//! Contract shared by every value codec:
//! - `decode(target, payload, schema)` turns a payload addressed to `target` into the
//!   [`Instances`] of `target`'s object that it carries. A payload for `/O/I/R` yields one
//!   instance holding one resource; for `/O/I/R/RI` one instance, one `Multiple` resource with
//!   one entry. Resources the schema does not know are skipped (Core 1.1 §6.3.3: "MUST ignore
//!   optional resources it does not support"). Anything malformed is an error, never a panic.
//! - `encode(target, content)` is the reverse: `content` holds what a Read of `target`
//!   returns, and the output is what goes on the wire.

pub mod link;
#[cfg(feature = "json")]
pub mod lwm2m_json;
pub mod opaque;
#[cfg(any(feature = "json", feature = "cbor"))]
mod senml;
#[cfg(feature = "cbor")]
pub mod senml_cbor;
#[cfg(feature = "json")]
pub mod senml_json;
pub mod text;
pub mod tlv;

use alloc::string::String;
use alloc::vec::Vec;

use crate::model::Schema;
use crate::path::Path;
use core::borrow::Borrow;

use crate::value::{Instances, Resources, VecMap};

/// CoAP Content-Format numbers used by LwM2M (Transport 1.1 §6.4 and the IANA registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentFormat {
    /// 0, `text/plain;charset=utf-8`: one resource value as text.
    Text,
    /// 40, `application/link-format` (RFC 6690): Discover and Register payloads.
    LinkFormat,
    /// 42, `application/octet-stream`: one Opaque resource as raw bytes.
    Opaque,
    /// 60, `application/cbor` (RFC 8949): a single value as one CBOR item. Recognised only;
    /// there is no codec for it here.
    Cbor,
    /// 110, `application/senml+json` (RFC 8428).
    SenmlJson,
    /// 112, `application/senml+cbor` (RFC 8428).
    SenmlCbor,
    /// 11542, `application/vnd.oma.lwm2m+tlv`.
    Tlv,
    /// 11543, `application/vnd.oma.lwm2m+json`, the LwM2M 1.0 JSON format.
    LwM2mJson,
}

impl ContentFormat {
    /// The Content-Format number carried in the Content-Format and Accept options.
    pub const fn code(self) -> u16 {
        match self {
            ContentFormat::Text => 0,
            ContentFormat::LinkFormat => 40,
            ContentFormat::Opaque => 42,
            ContentFormat::Cbor => 60,
            ContentFormat::SenmlJson => 110,
            ContentFormat::SenmlCbor => 112,
            ContentFormat::Tlv => 11542,
            ContentFormat::LwM2mJson => 11543,
        }
    }

    /// Maps a Content-Format number. The pre-1.0 numbers 1541/1542/1543 that old servers send are
    /// accepted as text/TLV/JSON (FACTS §6.1).
    pub const fn from_code(code: u16) -> Option<ContentFormat> {
        Some(match code {
            0 | 1541 => ContentFormat::Text,
            40 => ContentFormat::LinkFormat,
            42 => ContentFormat::Opaque,
            60 => ContentFormat::Cbor,
            110 => ContentFormat::SenmlJson,
            112 => ContentFormat::SenmlCbor,
            11542 | 1542 => ContentFormat::Tlv,
            11543 | 1543 => ContentFormat::LwM2mJson,
            _ => return None,
        })
    }

    /// Whether this build can decode payloads of this format.
    pub fn can_decode(self) -> bool {
        match self {
            ContentFormat::Text | ContentFormat::Opaque | ContentFormat::Tlv => true,
            ContentFormat::SenmlJson | ContentFormat::LwM2mJson => cfg!(feature = "json"),
            ContentFormat::SenmlCbor => cfg!(feature = "cbor"),
            ContentFormat::LinkFormat | ContentFormat::Cbor => false,
        }
    }

    /// Whether this build can encode Read results in this format.
    pub fn can_encode(self) -> bool {
        match self {
            ContentFormat::Text | ContentFormat::Opaque | ContentFormat::Tlv => true,
            ContentFormat::SenmlJson => cfg!(feature = "json"),
            ContentFormat::SenmlCbor => cfg!(feature = "cbor"),
            // LwM2M JSON is input-only: 1.1 clients "MUST NOT use" it (Core 1.1 §7.4.4).
            ContentFormat::LwM2mJson | ContentFormat::LinkFormat | ContentFormat::Cbor => false,
        }
    }
}

/// Why a payload could not be decoded or encoded. Every variant maps to 4.00 on input
/// (Core 1.1 §5.4.3: "format of data to be written is different"), except `Unsupported` → 4.15
/// on input / 4.06 on output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The payload ends inside an item.
    #[error("payload truncated")]
    Truncated,
    /// The payload breaks the format's own rules; carries what was wrong.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// A value that cannot be, or be turned into, the resource's type; carries what was wrong.
    #[error("value does not fit the resource type: {0}")]
    BadValue(String),
    /// The payload addresses something else than the target path, or the content lacks what
    /// the path names; carries what was wrong.
    #[error("payload does not match the target path: {0}")]
    WrongTarget(String),
    /// The format cannot carry this target (e.g. plain text for a whole instance), or this
    /// build has no codec for it.
    #[error("content format not supported for this target")]
    Unsupported,
}

/// Decodes a write payload addressed to `target` (see the module contract).
pub fn decode(
    format: ContentFormat,
    target: &Path,
    payload: &[u8],
    schema: &dyn Schema,
) -> Result<Instances, CodecError> {
    match format {
        ContentFormat::Tlv => tlv::decode(target, payload, schema),
        ContentFormat::Text => text::decode(target, payload, schema),
        ContentFormat::Opaque => opaque::decode(target, payload, schema),
        #[cfg(feature = "json")]
        ContentFormat::SenmlJson => senml_json::decode(target, payload, schema),
        #[cfg(feature = "json")]
        ContentFormat::LwM2mJson => lwm2m_json::decode(target, payload, schema),
        #[cfg(feature = "cbor")]
        ContentFormat::SenmlCbor => senml_cbor::decode(target, payload, schema),
        _ => Err(CodecError::Unsupported),
    }
}

/// The paths a composite request names (`FETCH` with a SenML pack of names, Core 1.1
/// §5.4.1.1). Only the SenML formats carry them.
pub fn decode_paths(format: ContentFormat, payload: &[u8]) -> Result<Vec<Path>, CodecError> {
    match format {
        #[cfg(feature = "json")]
        ContentFormat::SenmlJson => senml_json::decode_paths(payload),
        #[cfg(feature = "cbor")]
        ContentFormat::SenmlCbor => senml_cbor::decode_paths(payload),
        _ => {
            let _ = payload;
            Err(CodecError::Unsupported)
        }
    }
}

/// Encodes the values of several targets as one SenML pack whose records carry full names
/// (`"n":"/3/0/9"`): the payload of Send and Read-Composite (Core 1.1 §7.4.4). Only the SenML
/// formats carry that.
pub fn encode_composite(
    format: ContentFormat,
    items: &[(Path, Instances)],
) -> Result<Vec<u8>, CodecError> {
    #[cfg(any(feature = "json", feature = "cbor"))]
    let records = senml::composite_records(items)?;
    match format {
        #[cfg(feature = "json")]
        ContentFormat::SenmlJson => senml_json::write_records(&records),
        #[cfg(feature = "cbor")]
        ContentFormat::SenmlCbor => senml_cbor::write_records(&records),
        _ => {
            let _ = items;
            Err(CodecError::Unsupported)
        }
    }
}

/// Encodes the content of a Read of `target`. The content's instances are anything that
/// borrows as [`Resources`]: owned (an [`Instances`]) or borrowed from the store (a Read encodes
/// the store's values without copying them).
pub fn encode<R: Borrow<Resources>>(
    format: ContentFormat,
    target: &Path,
    content: &VecMap<u16, R>,
) -> Result<Vec<u8>, CodecError> {
    match format {
        ContentFormat::Tlv => tlv::encode(target, content),
        ContentFormat::Text => text::encode(target, content),
        ContentFormat::Opaque => opaque::encode(target, content),
        #[cfg(feature = "json")]
        ContentFormat::SenmlJson => senml_json::encode(target, content),
        #[cfg(feature = "cbor")]
        ContentFormat::SenmlCbor => senml_cbor::encode(target, content),
        _ => Err(CodecError::Unsupported),
    }
}
