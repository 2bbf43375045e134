//! Device (object 3), version 1.1: resource table from the OMA registry file
//! `3-1_1.xml` (lwm2m-registry, BSD-3-Clause; see shared/spec/models/README.md).

use alloc::borrow::Cow;

use super::{ObjectDef, Operations as Op, ResourceDef as R};
use crate::value::ResourceType as T;

/// The definition of the Device object (3), version 1.1 (Core 1.1 §E.4).
pub static DEVICE: ObjectDef = ObjectDef {
    id: 3,
    name: Cow::Borrowed("Device"),
    version: Cow::Borrowed("1.1"),
    multiple: false,
    mandatory: true,
    resources: Cow::Borrowed(&[
        R::new(0, "Manufacturer", T::String, Op::R, false, false),
        R::new(1, "Model Number", T::String, Op::R, false, false),
        R::new(2, "Serial Number", T::String, Op::R, false, false),
        R::new(3, "Firmware Version", T::String, Op::R, false, false),
        R::new(4, "Reboot", T::None, Op::E, false, true),
        R::new(5, "Factory Reset", T::None, Op::E, false, false),
        R::new(6, "Available Power Sources", T::Integer, Op::R, true, false),
        R::new(7, "Power Source Voltage", T::Integer, Op::R, true, false),
        R::new(8, "Power Source Current", T::Integer, Op::R, true, false),
        R::new(9, "Battery Level", T::Integer, Op::R, false, false),
        R::new(10, "Memory Free", T::Integer, Op::R, false, false),
        R::new(11, "Error Code", T::Integer, Op::R, true, true),
        R::new(12, "Reset Error Code", T::None, Op::E, false, false),
        R::new(13, "Current Time", T::Time, Op::RW, false, false),
        R::new(14, "UTC Offset", T::String, Op::RW, false, false),
        R::new(15, "Timezone", T::String, Op::RW, false, false),
        R::new(
            16,
            "Supported Binding and Modes",
            T::String,
            Op::R,
            false,
            true,
        ),
        R::new(17, "Device Type", T::String, Op::R, false, false),
        R::new(18, "Hardware Version", T::String, Op::R, false, false),
        R::new(19, "Software Version", T::String, Op::R, false, false),
        R::new(20, "Battery Status", T::Integer, Op::R, false, false),
        R::new(21, "Memory Total", T::Integer, Op::R, false, false),
        R::new(22, "ExtDevInfo", T::Objlnk, Op::R, true, false),
    ]),
};
