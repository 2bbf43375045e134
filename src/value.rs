//! LwM2M data types (Core 1.1 Appendix C) and the value tree shared by the store and the codecs.

pub use crate::vec_map::VecMap;
use alloc::string::String;
use alloc::vec::Vec;

/// The data type of a resource, as declared in the object model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// UTF-8 text.
    String,
    /// Signed integer, at most 64 bits.
    Integer,
    /// Since LwM2M 1.1.
    UnsignedInteger,
    /// IEEE 754 floating point, 32 or 64 bits on the wire.
    Float,
    /// True or false.
    Boolean,
    /// Raw bytes.
    Opaque,
    /// Unix time in seconds, signed.
    Time,
    /// Object link `OID:IID`.
    Objlnk,
    /// CoRE link (1.1), carried like a string.
    Corelnk,
    /// Executable resources carry no value.
    None,
}

impl ResourceType {
    /// Every type, in declaration order.
    pub const ALL: [ResourceType; 10] = [
        ResourceType::String,
        ResourceType::Integer,
        ResourceType::UnsignedInteger,
        ResourceType::Float,
        ResourceType::Boolean,
        ResourceType::Opaque,
        ResourceType::Time,
        ResourceType::Objlnk,
        ResourceType::Corelnk,
        ResourceType::None,
    ];
}

/// A single resource (or resource instance) value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A String resource: UTF-8 text.
    String(String),
    /// An Integer resource.
    Integer(i64),
    /// An Unsigned Integer resource (LwM2M 1.1).
    Unsigned(u64),
    /// A Float resource, held as binary64 whatever its wire width.
    Float(f64),
    /// A Boolean resource.
    Boolean(bool),
    /// An Opaque resource: raw bytes.
    Opaque(Vec<u8>),
    /// A Time resource: Unix time in seconds, signed.
    Time(i64),
    /// (Object ID, Instance ID); the null link is (65535, 65535).
    Objlnk(u16, u16),
    /// A Corelnk resource: CoRE link format text (RFC 6690), kept as written.
    Corelnk(String),
}

impl Value {
    /// The type this value has.
    pub fn resource_type(&self) -> ResourceType {
        match self {
            Value::String(_) => ResourceType::String,
            Value::Integer(_) => ResourceType::Integer,
            Value::Unsigned(_) => ResourceType::UnsignedInteger,
            Value::Float(_) => ResourceType::Float,
            Value::Boolean(_) => ResourceType::Boolean,
            Value::Opaque(_) => ResourceType::Opaque,
            Value::Time(_) => ResourceType::Time,
            Value::Objlnk(..) => ResourceType::Objlnk,
            Value::Corelnk(_) => ResourceType::Corelnk,
        }
    }

    /// The value as a signed integer, for Integer, Unsigned (if it fits) and Time.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(v) | Value::Time(v) => Some(*v),
            Value::Unsigned(v) => i64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// The value of a Boolean, `None` for other types.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The text of a String or Corelnk, `None` for other types.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Corelnk(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes of an Opaque, `None` for other types.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Opaque(b) => Some(b),
            _ => None,
        }
    }
}

/// A resource's content: one value, or the instances of a multiple-instance resource.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceValue {
    /// The value of a single-instance resource.
    Single(Value),
    /// The instances of a multiple-instance resource, by resource instance ID (may be empty).
    Multiple(VecMap<u16, Value>),
}

impl ResourceValue {
    /// The single value, or `None` for a multiple-instance resource.
    pub fn single(&self) -> Option<&Value> {
        match self {
            ResourceValue::Single(v) => Some(v),
            ResourceValue::Multiple(_) => None,
        }
    }
}

/// The resources of one object instance, by resource ID.
pub type Resources = VecMap<u16, ResourceValue>;

/// The instances of one object, by instance ID.
pub type Instances = VecMap<u16, Resources>;
