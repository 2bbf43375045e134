//! LWM2M Security (object 0), version 1.1: resource table from the OMA registry file
//! `0-1_1.xml` (lwm2m-registry, BSD-3-Clause; see shared/spec/models/README.md).
//! Every Operations field is empty by design: no LwM2M Server may access this object; only
//! the Bootstrap-Server, smartcard or factory provisioning writes it (Core 1.1 §E.1).

use alloc::borrow::Cow;

use super::{ObjectDef, Operations as Op, ResourceDef as R};
use crate::value::ResourceType as T;

/// The definition of the LwM2M Security object (0), version 1.1 (Core 1.1 §E.1).
pub static SECURITY: ObjectDef = ObjectDef {
    id: 0,
    name: Cow::Borrowed("LWM2M Security"),
    version: Cow::Borrowed("1.1"),
    multiple: true,
    mandatory: true,
    resources: Cow::Borrowed(&[
        R::new(0, "LWM2M Server URI", T::String, Op::NONE, false, true),
        R::new(1, "Bootstrap-Server", T::Boolean, Op::NONE, false, true),
        R::new(2, "Security Mode", T::Integer, Op::NONE, false, true),
        R::new(
            3,
            "Public Key or Identity",
            T::Opaque,
            Op::NONE,
            false,
            true,
        ),
        R::new(4, "Server Public Key", T::Opaque, Op::NONE, false, true),
        R::new(5, "Secret Key", T::Opaque, Op::NONE, false, true),
        R::new(6, "SMS Security Mode", T::Integer, Op::NONE, false, false),
        R::new(
            7,
            "SMS Binding Key Parameters",
            T::Opaque,
            Op::NONE,
            false,
            false,
        ),
        R::new(
            8,
            "SMS Binding Secret Key(s)",
            T::Opaque,
            Op::NONE,
            false,
            false,
        ),
        R::new(
            9,
            "LwM2M Server SMS Number",
            T::String,
            Op::NONE,
            false,
            false,
        ),
        R::new(10, "Short Server ID", T::Integer, Op::NONE, false, false),
        R::new(
            11,
            "Client Hold Off Time",
            T::Integer,
            Op::NONE,
            false,
            false,
        ),
        R::new(
            12,
            "Bootstrap-Server Account Timeout",
            T::Integer,
            Op::NONE,
            false,
            false,
        ),
        R::new(
            13,
            "Matching Type",
            T::UnsignedInteger,
            Op::NONE,
            false,
            false,
        ),
        R::new(14, "SNI", T::String, Op::NONE, false, false),
        R::new(
            15,
            "Certificate Usage",
            T::UnsignedInteger,
            Op::NONE,
            false,
            false,
        ),
        R::new(
            16,
            "DTLS/TLS Ciphersuite",
            T::UnsignedInteger,
            Op::NONE,
            true,
            false,
        ),
        R::new(
            17,
            "OSCORE Security Mode",
            T::Objlnk,
            Op::NONE,
            false,
            false,
        ),
    ]),
};
