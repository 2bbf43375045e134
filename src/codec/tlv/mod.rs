//! LwM2M TLV (application/vnd.oma.lwm2m+tlv, Content-Format 11542).
//!
//! Two layers: the entry layer ([`TlvReader`], [`write_entry`]) knows only the byte layout
//! (Core 1.1 §7.4.3, FACTS §6.2); the value layer ([`decode_value`], [`encode_value`]) maps
//! bytes to [`Value`](crate::value::Value)s by resource type (Core 1.1 Appendix C); [`decode`]
//! and [`encode`] apply the codec contract of `codec/mod.rs` on top of both.
//!
//! Layout: the entry layer in `entry`, the value layer in `value`, the payload decoder in `decode`
//! and the payload encoder in `encode`.

use alloc::string::String;

use super::CodecError;

mod decode;
mod encode;
mod entry;
mod value;

pub use decode::decode;
pub use encode::{encode, write_resource, write_resources};
pub use entry::{parse_entries, write_entry, TlvEntry, TlvKind, TlvReader, MAX_VALUE_LEN};
pub use value::{
    decode_float, decode_integer, decode_unsigned, decode_value, encode_float, encode_integer,
    encode_unsigned, encode_value,
};

fn malformed(msg: &str) -> CodecError {
    CodecError::Malformed(String::from(msg))
}

fn bad_value(msg: &str) -> CodecError {
    CodecError::BadValue(String::from(msg))
}

fn wrong_target(msg: &str) -> CodecError {
    CodecError::WrongTarget(String::from(msg))
}

#[cfg(test)]
mod tests;
