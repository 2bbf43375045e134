//! Information Reporting: the `<NOTIFICATION>` attributes a server attaches with
//! Write-Attributes, and when an observation must send a notification (FACTS §5, §5.1, §7.5;
//! Core 1.2 "Attributes Definitions and Rules", "Notification Attributes"; RFC 7641).
//!
//! Both halves are pure, sans-I/O state (DESIGN.md §1): no clock is read, time comes in as a
//! monotonic `now` in milliseconds, and the router that owns the observations applies the
//! results. [`attributes`] parses Write-Attributes queries and keeps the attributes per server and
//! level with their inheritance; [`condition`] schedules one observation from its effective
//! attributes.

pub(crate) mod attributes;
pub(crate) mod condition;
pub(crate) mod registry;
