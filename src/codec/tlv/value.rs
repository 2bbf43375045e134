//! The TLV value layer: bytes to [`Value`] and back by resource type (Core 1.1 Appendix C,
//! "TLV" column).

use alloc::string::String;
use alloc::vec::Vec;

use super::bad_value;
use crate::codec::CodecError;
use crate::value::{ResourceType, Value};

/// Decodes a TLV value of the given resource type.
pub fn decode_value(kind: ResourceType, bytes: &[u8]) -> Result<Value, CodecError> {
    Ok(match kind {
        ResourceType::String => Value::String(decode_utf8(bytes)?),
        ResourceType::Corelnk => Value::Corelnk(decode_utf8(bytes)?),
        ResourceType::Integer => Value::Integer(decode_integer(bytes)?),
        ResourceType::Time => Value::Time(decode_integer(bytes)?),
        ResourceType::UnsignedInteger => Value::Unsigned(decode_unsigned(bytes)?),
        ResourceType::Float => Value::Float(decode_float(bytes)?),
        ResourceType::Boolean => match bytes {
            // Appendix C: Boolean is one byte, 0 or 1; anything else is invalid.
            [0] => Value::Boolean(false),
            [1] => Value::Boolean(true),
            _ => return Err(bad_value("boolean must be one byte 0 or 1")),
        },
        ResourceType::Opaque => Value::Opaque(bytes.to_vec()),
        ResourceType::Objlnk => match bytes {
            [o1, o2, i1, i2] => Value::Objlnk(
                u16::from_be_bytes([*o1, *o2]),
                u16::from_be_bytes([*i1, *i2]),
            ),
            _ => return Err(bad_value("object link must be 4 bytes")),
        },
        ResourceType::None => return Err(bad_value("executable resource carries no value")),
    })
}

/// Encodes a value in its TLV form (shortest integer form; binary32 floats when exact).
pub fn encode_value(value: &Value) -> Vec<u8> {
    with_value_bytes(value, <[u8]>::to_vec)
}

/// Calls `f` with the TLV value bytes of `value` (as [`encode_value`] gives them), borrowed
/// from the value or built on the stack: encoding a Read allocates nothing per value.
pub(crate) fn with_value_bytes<R>(value: &Value, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 8];
    let bytes: &[u8] = match value {
        Value::String(s) | Value::Corelnk(s) => s.as_bytes(),
        Value::Opaque(b) => b,
        Value::Boolean(b) => {
            buf[0] = u8::from(*b);
            &buf[..1]
        }
        Value::Objlnk(o, i) => {
            buf[..2].copy_from_slice(&o.to_be_bytes());
            buf[2..4].copy_from_slice(&i.to_be_bytes());
            &buf[..4]
        }
        Value::Integer(v) | Value::Time(v) => {
            let width = match *v {
                v if i8::try_from(v).is_ok() => 1,
                v if i16::try_from(v).is_ok() => 2,
                v if i32::try_from(v).is_ok() => 4,
                _ => 8,
            };
            buf.copy_from_slice(&v.to_be_bytes());
            &buf[8 - width..]
        }
        Value::Unsigned(v) => {
            let width = match *v {
                v if u8::try_from(v).is_ok() => 1,
                v if u16::try_from(v).is_ok() => 2,
                v if u32::try_from(v).is_ok() => 4,
                _ => 8,
            };
            buf.copy_from_slice(&v.to_be_bytes());
            &buf[8 - width..]
        }
        Value::Float(v) => {
            let narrow = *v as f32;
            if f64::from(narrow).to_bits() == v.to_bits() {
                buf[..4].copy_from_slice(&narrow.to_be_bytes());
                &buf[..4]
            } else {
                buf.copy_from_slice(&v.to_be_bytes());
                &buf[..]
            }
        }
    };
    f(bytes)
}

fn decode_utf8(bytes: &[u8]) -> Result<String, CodecError> {
    core::str::from_utf8(bytes)
        .map(String::from)
        .map_err(|_| bad_value("string is not valid UTF-8"))
}

/// Signed two's complement, big-endian, 1, 2, 4 or 8 bytes (Appendix C; other sizes invalid).
pub fn decode_integer(bytes: &[u8]) -> Result<i64, CodecError> {
    if let Ok(b) = <[u8; 1]>::try_from(bytes) {
        Ok(i64::from(i8::from_be_bytes(b)))
    } else if let Ok(b) = <[u8; 2]>::try_from(bytes) {
        Ok(i64::from(i16::from_be_bytes(b)))
    } else if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        Ok(i64::from(i32::from_be_bytes(b)))
    } else if let Ok(b) = <[u8; 8]>::try_from(bytes) {
        Ok(i64::from_be_bytes(b))
    } else {
        Err(bad_value("integer must be 1, 2, 4 or 8 bytes"))
    }
}

/// Unsigned big-endian, 1, 2, 4 or 8 bytes (Appendix C, Unsigned Integer, LwM2M 1.1).
pub fn decode_unsigned(bytes: &[u8]) -> Result<u64, CodecError> {
    match bytes.len() {
        1 | 2 | 4 | 8 => Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))),
        _ => Err(bad_value("unsigned integer must be 1, 2, 4 or 8 bytes")),
    }
}

/// IEEE 754 binary32 (4 bytes) or binary64 (8 bytes), big-endian.
pub fn decode_float(bytes: &[u8]) -> Result<f64, CodecError> {
    if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        Ok(f64::from(f32::from_be_bytes(b)))
    } else if let Ok(b) = <[u8; 8]>::try_from(bytes) {
        Ok(f64::from_be_bytes(b))
    } else {
        Err(bad_value("float must be 4 or 8 bytes"))
    }
}

/// Shortest of 1, 2, 4, 8 bytes that holds `v`.
pub fn encode_integer(v: i64) -> Vec<u8> {
    if let Ok(b) = i8::try_from(v) {
        b.to_be_bytes().to_vec()
    } else if let Ok(b) = i16::try_from(v) {
        b.to_be_bytes().to_vec()
    } else if let Ok(b) = i32::try_from(v) {
        b.to_be_bytes().to_vec()
    } else {
        v.to_be_bytes().to_vec()
    }
}

/// Shortest of 1, 2, 4, 8 bytes that holds `v`.
pub fn encode_unsigned(v: u64) -> Vec<u8> {
    if let Ok(b) = u8::try_from(v) {
        alloc::vec![b]
    } else if let Ok(b) = u16::try_from(v) {
        b.to_be_bytes().to_vec()
    } else if let Ok(b) = u32::try_from(v) {
        b.to_be_bytes().to_vec()
    } else {
        v.to_be_bytes().to_vec()
    }
}

/// binary32 when it represents `v` exactly (bit for bit after widening), else binary64.
pub fn encode_float(v: f64) -> Vec<u8> {
    let narrow = v as f32;
    if f64::from(narrow).to_bits() == v.to_bits() {
        narrow.to_be_bytes().to_vec()
    } else {
        v.to_be_bytes().to_vec()
    }
}
