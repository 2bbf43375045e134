//! LwM2M Server (object 1), version 1.1: resource table from the OMA registry file
//! `1-1_1.xml` (lwm2m-registry, BSD-3-Clause; see shared/spec/models/README.md).
//! That file leaves Operations blank for resources 13-20; the 1.2 file (`1-1_2.xml`) gives
//! 13=R, 14=RW, 15=R, 16=R, 17-20=RW, which is what we use.

use alloc::borrow::Cow;

use super::{ObjectDef, Operations as Op, ResourceDef as R};
use crate::value::ResourceType as T;

/// The definition of the LwM2M Server object (1), version 1.1 (Core 1.1 §E.2).
pub static SERVER: ObjectDef = ObjectDef {
    id: 1,
    name: Cow::Borrowed("LwM2M Server"),
    version: Cow::Borrowed("1.1"),
    multiple: true,
    mandatory: true,
    resources: Cow::Borrowed(&[
        R::new(0, "Short Server ID", T::Integer, Op::R, false, true),
        R::new(1, "Lifetime", T::Integer, Op::RW, false, true),
        R::new(
            2,
            "Default Minimum Period",
            T::Integer,
            Op::RW,
            false,
            false,
        ),
        R::new(
            3,
            "Default Maximum Period",
            T::Integer,
            Op::RW,
            false,
            false,
        ),
        R::new(4, "Disable", T::None, Op::E, false, false),
        R::new(5, "Disable Timeout", T::Integer, Op::RW, false, false),
        R::new(
            6,
            "Notification Storing When Disabled or Offline",
            T::Boolean,
            Op::RW,
            false,
            true,
        ),
        R::new(7, "Binding", T::String, Op::RW, false, true),
        R::new(
            8,
            "Registration Update Trigger",
            T::None,
            Op::E,
            false,
            true,
        ),
        R::new(9, "Bootstrap-Request Trigger", T::None, Op::E, false, false),
        R::new(10, "APN Link", T::Objlnk, Op::RW, false, false),
        R::new(
            11,
            "TLS-DTLS Alert Code",
            T::UnsignedInteger,
            Op::R,
            false,
            false,
        ),
        R::new(12, "Last Bootstrapped", T::Time, Op::R, false, false),
        R::new(
            13,
            "Registration Priority Order",
            T::UnsignedInteger,
            Op::R,
            false,
            false,
        ),
        R::new(
            14,
            "Initial Registration Delay Timer",
            T::UnsignedInteger,
            Op::RW,
            false,
            false,
        ),
        R::new(
            15,
            "Registration Failure Block",
            T::Boolean,
            Op::R,
            false,
            false,
        ),
        R::new(
            16,
            "Bootstrap on Registration Failure",
            T::Boolean,
            Op::R,
            false,
            false,
        ),
        R::new(
            17,
            "Communication Retry Count",
            T::UnsignedInteger,
            Op::RW,
            false,
            false,
        ),
        R::new(
            18,
            "Communication Retry Timer",
            T::UnsignedInteger,
            Op::RW,
            false,
            false,
        ),
        R::new(
            19,
            "Communication Sequence Delay Timer",
            T::UnsignedInteger,
            Op::RW,
            false,
            false,
        ),
        R::new(
            20,
            "Communication Sequence Retry Count",
            T::UnsignedInteger,
            Op::RW,
            false,
            false,
        ),
        R::new(21, "Trigger", T::Boolean, Op::RW, false, false),
        R::new(22, "Preferred Transport", T::String, Op::RW, false, false),
        R::new(23, "Mute Send", T::Boolean, Op::RW, false, false),
    ]),
};
