//! Firmware Update (object 5), version 1.1: resource table from the OMA registry file
//! `5-1_1.xml` (lwm2m-registry, BSD-3-Clause; see shared/spec/models/README.md). Version 1.1 is
//! the one Core 1.2.1 Appendix E lists and the one for LwM2M 1.1 clients (models/README.md);
//! `5-1_2.xml` only adds resource 14 "Automatic Upgrade at Download", which we leave out.
//!
//! Not one of [`standard_objects`](super::standard_objects): a device that updates its
//! firmware over LwM2M opts in by adding this definition. The state machine behind resources
//! 0-3, 5 and 10 is `crate::firmware`.

use alloc::borrow::Cow;

use super::{ObjectDef, Operations as Op, ResourceDef as R};
use crate::value::ResourceType as T;

/// The definition of the Firmware Update object (5), version 1.1 (Core 1.1 §E.6).
pub static FIRMWARE: ObjectDef = ObjectDef {
    id: 5,
    name: Cow::Borrowed("Firmware Update"),
    version: Cow::Borrowed("1.1"),
    multiple: false,
    mandatory: false,
    resources: Cow::Borrowed(&[
        R::new(0, "Package", T::Opaque, Op::W, false, true),
        R::new(1, "Package URI", T::String, Op::RW, false, true),
        R::new(2, "Update", T::None, Op::E, false, true),
        R::new(3, "State", T::Integer, Op::R, false, true),
        R::new(5, "Update Result", T::Integer, Op::R, false, true),
        R::new(6, "PkgName", T::String, Op::R, false, false),
        R::new(7, "PkgVersion", T::String, Op::R, false, false),
        R::new(
            8,
            "Firmware Update Protocol Support",
            T::Integer,
            Op::R,
            true,
            false,
        ),
        R::new(
            9,
            "Firmware Update Delivery Method",
            T::Integer,
            Op::R,
            false,
            true,
        ),
        R::new(10, "Cancel", T::None, Op::E, false, false),
        R::new(11, "Severity", T::Integer, Op::RW, false, false),
        R::new(12, "Last State Change Time", T::Time, Op::R, false, false),
        R::new(
            13,
            "Maximum Defer Period",
            T::UnsignedInteger,
            Op::RW,
            false,
            false,
        ),
    ]),
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The `<Item>` elements of `5-1_1.xml`, transcribed field by field in the file's own
    /// words: (ID, Name, Operations, MultipleInstances, Mandatory, Type). The object header:
    /// ObjectID 5, ObjectVersion 1.1, MultipleInstances Single, Mandatory Optional.
    const XML_ITEMS: &[(u16, &str, &str, &str, &str, &str)] = &[
        (0, "Package", "W", "Single", "Mandatory", "Opaque"),
        (1, "Package URI", "RW", "Single", "Mandatory", "String"),
        (2, "Update", "E", "Single", "Mandatory", ""),
        (3, "State", "R", "Single", "Mandatory", "Integer"),
        (5, "Update Result", "R", "Single", "Mandatory", "Integer"),
        (6, "PkgName", "R", "Single", "Optional", "String"),
        (7, "PkgVersion", "R", "Single", "Optional", "String"),
        (
            8,
            "Firmware Update Protocol Support",
            "R",
            "Multiple",
            "Optional",
            "Integer",
        ),
        (
            9,
            "Firmware Update Delivery Method",
            "R",
            "Single",
            "Mandatory",
            "Integer",
        ),
        (10, "Cancel", "E", "Single", "Optional", ""),
        (11, "Severity", "RW", "Single", "Optional", "Integer"),
        (
            12,
            "Last State Change Time",
            "R",
            "Single",
            "Optional",
            "Time",
        ),
        (
            13,
            "Maximum Defer Period",
            "RW",
            "Single",
            "Optional",
            "Unsigned Integer",
        ),
    ];

    /// A DDF `<Type>` as [`T`]; an empty type is an executable's.
    fn xml_type(s: &str) -> T {
        match s {
            "String" => T::String,
            "Integer" => T::Integer,
            "Unsigned Integer" => T::UnsignedInteger,
            "Float" => T::Float,
            "Boolean" => T::Boolean,
            "Opaque" => T::Opaque,
            "Time" => T::Time,
            "Objlnk" => T::Objlnk,
            "Corelnk" => T::Corelnk,
            "" => T::None,
            other => panic!("type {other:?} not in the DDF schema"),
        }
    }

    fn xml_flag(s: &str, yes: &str, no: &str) -> bool {
        assert!(s == yes || s == no, "{s:?} is neither {yes} nor {no}");
        s == yes
    }

    #[test]
    fn table_matches_5_1_1_xml() {
        assert_eq!(FIRMWARE.id, 5);
        assert_eq!(FIRMWARE.name, "Firmware Update");
        assert_eq!(FIRMWARE.version, "1.1");
        assert_eq!(FIRMWARE.announced_version(), Some("1.1"));
        assert!(!FIRMWARE.multiple);
        assert!(!FIRMWARE.mandatory);
        assert_eq!(FIRMWARE.resources.len(), XML_ITEMS.len());
        for (def, &(id, name, ops, multiple, mandatory, kind)) in
            FIRMWARE.resources.iter().zip(XML_ITEMS)
        {
            assert_eq!(def.id, id);
            assert_eq!(def.name, name, "/5/0/{id}");
            assert_eq!(def.operations, Op::from_letters(ops), "/5/0/{id}");
            assert_eq!(
                def.multiple,
                xml_flag(multiple, "Multiple", "Single"),
                "/5/0/{id}"
            );
            assert_eq!(
                def.mandatory,
                xml_flag(mandatory, "Mandatory", "Optional"),
                "/5/0/{id}"
            );
            assert_eq!(def.kind, xml_type(kind), "/5/0/{id}");
        }
        // "(No resource 4.)" (FACTS §2.6).
        assert!(FIRMWARE.resource(4).is_none());
    }
}
