//! LwM2M Access Control (object 2), version 1.0: resource table from the OMA registry file
//! `2-1_0.xml` (lwm2m-registry, BSD-3-Clause; see shared/spec/models/README.md).

use alloc::borrow::Cow;

use super::{ObjectDef, Operations as Op, ResourceDef as R};
use crate::value::ResourceType as T;

/// The definition of the LwM2M Access Control object (2), version 1.0 (Core 1.1 §E.3).
pub static ACCESS_CONTROL: ObjectDef = ObjectDef {
    id: 2,
    name: Cow::Borrowed("LwM2M Access Control"),
    version: Cow::Borrowed("1.0"),
    multiple: true,
    mandatory: false,
    resources: Cow::Borrowed(&[
        R::new(0, "Object ID", T::Integer, Op::R, false, true),
        R::new(1, "Object Instance ID", T::Integer, Op::R, false, true),
        R::new(2, "ACL", T::Integer, Op::RW, true, false),
        R::new(3, "Access Control Owner", T::Integer, Op::RW, false, true),
    ]),
};
