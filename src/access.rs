//! Access Control (object 2, Core 1.1 §7.3): may server S do operation Op on `/O/I`?
//!
//! Answered from the store's Access Control instances alone; the DM layer (`dm`) asks before it
//! changes or reads anything and answers a refusal 4.01 Unauthorized with nothing changed. The
//! rules, and where each one comes from. (The TS sentences quoted below are the Access
//! Control text of the LwM2M TS as found in a public copy of the 1.0 TS, §7.3, which Core 1.1
//! §7.3 carries over; FACTS.md summarises them in §2.3 without quoting. They could not be
//! checked word for word against the 1.1 document here.)
//!
//! **When access control applies.** Core 1.1 §7.3: "In the particular case where a single
//! LwM2M Server Account exists in the LwM2M Client, the Server MUST have full access right on
//! all the Object Instances … and the Access Control Object MAY be not instantiated"; §7.3.1
//! and its sub-sections "MUST be used in multiple LwM2M Servers environment". FACTS §2.3 (from
//! the 1.2 text) adds the Access-Control-Disabled context: no `/2` instances, full rights; and
//! FACTS §8 item 5 says "enforce ACL if /2 present". Our reading, which agrees with all three:
//! the rules apply when the client supports object 2 (the store defines it), more than one
//! LwM2M Server account is configured, **and** object 2 holds at least one instance. A
//! multi-server configuration a Bootstrap-Server wrote without any ACL stays manageable by every
//! server (as it was before access control existed here); once any ACL instance is there, the
//! whole device is governed by them, and an instance without an ACL instance gives no rights
//! (Core 1.1 §7.3.1: "a unique Access Control Object Instance is assigned per Object
//! Instance"; Anjay answers the same, `access_control_mask` → NONE). Divergence: Core 1.1 alone
//! would enforce with no `/2` instances at all (nobody but bootstrap could do anything); we
//! follow FACTS' 1.2 reading there. A consequence to know: a server that may delete every
//! instance that has an ACL instance would, deleting them all, bring the device back to the
//! disabled context; an object-level ACL instance (which no server can delete) rules that out.
//! The Bootstrap-Server is never subject to these rules (Core 1.1 §5.2.7.4: Bootstrap-Write
//! ignores access rights); `bootstrap` never asks.
//!
//! **Rights of server S on `/O/I`** (Core 1.1 §7.3.1; FACTS §2.3 "Authorization"): the ACL
//! instance whose Object ID (`/2/x/0`) and Object Instance ID (`/2/x/1`) name `/O/I`, then
//! 1. an ACL resource instance `/2/x/2/S` → its bits;
//! 2. else, S is the Access Control Owner (`/2/x/3`) → full rights ("the Access Control Owner
//!    LwM2M Server which doesn't have ACL Resource Instance, have full access right");
//! 3. else, the default `/2/x/2/0` (RIID 0, "the default access rights") → its bits;
//! 4. else, and when no ACL instance names `/O/I`, no rights.
//!
//! The owner comes before the default (FACTS §2.3's order and the TS sentence in 2.; Zephyr's
//! `check_acl_table` too; Anjay gives the owner full rights only when the ACL is empty). Two ACL
//! instances for one target are refused at Bootstrap-Finish (`validate`); the lowest Instance
//! ID is used should one slip in.
//!
//! **Bits** (models/2-1_0.xml, ACL): 1st LSB R (Read, Observe, Write-Attributes), 2nd W
//! (Write), 3rd E (Execute), 4th D (Delete), 5th C (Create); "other bits are reserved" and are
//! ignored. A value that is no 16-bit integer grants nothing. Discover needs no right (FACTS
//! §2.3 "Minimum right … Discover none").
//!
//! **Create** on `/O` needs C in the object-level ACL instance, Object Instance ID 65535
//! (models/2-1_0.xml, Object Instance ID 0..65535; FACTS §2.3), looked up as above. The
//! instance it creates gets a new ACL instance owned by S with every right but C for S (FACTS
//! §2.3 "On Create by server S, the client creates an ACL instance owned by S with full rights
//! for S"; C means nothing on an instance, as in Anjay's `perform_adds`). This happens only
//! while the rules apply: in the disabled contexts above a new ACL instance would switch the
//! rules on for every other instance. One the Bootstrap-Server provisioned beforehand for that
//! instance is kept. Deleting an instance removes the ACL instances that name it (FACTS is
//! silent; Anjay's `perform_removes`).
//!
//! **Object level.** A Read or Observe of `/O` carries only the instances S may Read (the
//! others are left out, not refused: Anjay's `read_instance_clb`). Write-Attributes on `/O`
//! needs no instance's right (no ACL instance is about an object's attributes; Anjay and Zephyr
//! allow it). Write, Execute and Delete on `/O` are no valid targets (4.05, answered by `dm`).
//!
//! **Existence.** The DM layer answers 4.04 for an object or instance that does not exist
//! before it asks here, so a refusal is always 4.01 and is only ever about something that
//! exists (Anjay checks the same order). Nothing in Core 1.1 §7.3 or FACTS makes the client
//! answer 4.04 to hide an instance a server may not access: FACTS §4.1 lists 4.01 "access
//! denied" for every operation, and Discover, which needs no right, lists every instance
//! anyway. Only the object-level Read above leaves instances out.
//!
//! **The Access Control object itself.** "Each Access Control Object Instance MUST only be
//! managed by the Access Control Owner" (Core 1.1 §7.3.1) and Owner 65535 "means this Access
//! Control Object Instance is created and modified during a Bootstrap phase only"
//! (models/2-1_0.xml): Write (and Execute, which it has no resource for) on `/2/x` only by its
//! owner, never when the owner is 65535. Reading one (Read, Observe, Write-Attributes,
//! Discover) is not managing it and is open to every server, as in Anjay and Zephyr (FACTS is
//! silent). Create and Delete of `/2` instances are the client's and the Bootstrap-Server's
//! alone (refused with 4.01, as Anjay does; FACTS is silent).
//!
//! **Security and OSCORE** (objects 0 and 21) are never accessible to a server, whatever the
//! context (Core 1.1 §6.3 / FACTS §4.1, 4.01).
//!
//! **Bounds.** An ACL resource instance ID must be 0 or the Short Server ID of a configured
//! server ("The Resource Instance ID MUST be the Short Server ID of a certain LwM2M Server",
//! models/2-1_0.xml), so a server's Write cannot make an ACL hold more entries than there are
//! servers plus one; Access Control instances are bounded by `Limits::max_instances` like every
//! object's.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::accounts;
use crate::model::oid;
use crate::path::Path;
use crate::store::Store;
use crate::value::{ResourceValue, Resources, Value};

/// Resource IDs of the Access Control object (Core 1.1 §E.3, models/2-1_0.xml).
pub(crate) mod res {
    /// Object ID: the object the ACL instance is about.
    pub(crate) const OBJECT_ID: u16 = 0;
    /// Object Instance ID: the instance it is about (65535: the object itself, for Create).
    pub(crate) const INSTANCE_ID: u16 = 1;
    /// ACL: per Short Server ID (RIID), the rights; RIID 0 the default.
    pub(crate) const ACL: u16 = 2;
    /// Access Control Owner: the Short Server ID that manages the instance (65535: bootstrap).
    pub(crate) const OWNER: u16 = 3;
}

/// The Object Instance ID of an object-level ACL instance, whose C bit governs Create.
pub(crate) const OBJECT_LEVEL: u16 = 65535;

/// The Access Control Owner that means "managed by the Bootstrap-Server only" (MAX_ID).
pub(crate) const BOOTSTRAP_OWNER: u16 = 65535;

/// The ACL resource instance holding the default rights.
pub(crate) const DEFAULT_ENTRY: u16 = 0;

/// A set of access rights, the bits of an ACL resource instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rights(u8);

impl Rights {
    /// No right at all.
    pub(crate) const NONE: Rights = Rights(0);
    /// R: Read, Observe, Write-Attributes.
    pub(crate) const READ: Rights = Rights(1);
    /// W: Write.
    pub(crate) const WRITE: Rights = Rights(2);
    /// E: Execute.
    pub(crate) const EXECUTE: Rights = Rights(4);
    /// D: Delete.
    pub(crate) const DELETE: Rights = Rights(8);
    /// C: Create (meaningful in an object-level ACL instance).
    pub(crate) const CREATE: Rights = Rights(16);
    /// Every right (what the owner without an ACL entry has).
    pub(crate) const ALL: Rights = Rights(31);

    /// The rights an ACL resource instance value grants: the five defined bits of a 16-bit
    /// integer; anything else (negative, wider, another type) grants none.
    pub(crate) fn from_value(v: &Value) -> Rights {
        match v.as_i64().map(u16::try_from) {
            Some(Ok(bits)) => Rights((bits & 0x1F) as u8),
            _ => Rights::NONE,
        }
    }

    /// Whether every right in `other` is in `self`.
    pub(crate) const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// The bits, as an ACL resource instance holds them.
    pub(crate) const fn bits(self) -> u8 {
        self.0
    }

    /// These rights less those in `other`.
    pub(crate) const fn without(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }
}

/// A DM operation, as the ACL bits tell them apart (Observe is a Read; Read-Composite and
/// Observe-Composite are a Read of each path they name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Read, Observe (and their composite forms, per path).
    Read,
    /// Write-Attributes.
    WriteAttributes,
    /// Discover.
    Discover,
    /// Write, replace or partial update.
    Write,
    /// Execute.
    Execute,
    /// Delete.
    Delete,
    /// Create (on `/O`).
    Create,
}

impl Operation {
    /// The right the operation needs (models/2-1_0.xml ACL bits; FACTS §2.3 "Minimum right").
    pub(crate) const fn needs(self) -> Rights {
        match self {
            Operation::Read | Operation::WriteAttributes => Rights::READ,
            Operation::Discover => Rights::NONE,
            Operation::Write => Rights::WRITE,
            Operation::Execute => Rights::EXECUTE,
            Operation::Delete => Rights::DELETE,
            Operation::Create => Rights::CREATE,
        }
    }
}

/// Why an operation was refused: the diagnostic of the 4.01 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Denied(pub(crate) &'static str);

/// Access control as one server sees it, for one request: whether the rules apply. Holds no
/// borrow of the store, which is handed to every question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Access {
    ssid: u16,
    enforced: bool,
}

impl Access {
    /// Access control for server `ssid` over `store` (the module doc says when it applies).
    pub(crate) fn of(store: &Store, ssid: u16) -> Access {
        let has_acls = store.def(oid::ACCESS_CONTROL).is_some()
            && store
                .instances(oid::ACCESS_CONTROL)
                .is_some_and(|m| !m.is_empty());
        Access {
            ssid,
            enforced: has_acls && accounts::server_ssids(store).len() > 1,
        }
    }

    /// Whether the ACL rules apply (otherwise every server has full access).
    pub(crate) fn enforced(&self) -> bool {
        self.enforced
    }

    /// May this server do `op` on `/o` (`i` is `None`) or `/o/i`? Existence is the caller's
    /// to check first (4.04); a refusal is answered 4.01.
    pub(crate) fn check(
        &self,
        store: &Store,
        op: Operation,
        o: u16,
        i: Option<u16>,
    ) -> Result<(), Denied> {
        // Core 1.1 §6.3 / FACTS §4.1: never, in any context.
        if matches!(o, oid::SECURITY | oid::OSCORE) {
            return Err(Denied("security objects are not accessible"));
        }
        if !self.enforced || op == Operation::Discover {
            return Ok(());
        }
        if o == oid::ACCESS_CONTROL {
            return self.check_access_control(store, op, i);
        }
        let needed = op.needs();
        let granted = match (op, i) {
            (Operation::Create, _) => rights(store, self.ssid, o, OBJECT_LEVEL),
            // Object level: a Read leaves out the instances it may not read (`may_read`),
            // Write-Attributes needs no instance's right, the rest is no valid target (4.05).
            (_, None) => return Ok(()),
            (_, Some(i)) => rights(store, self.ssid, o, i),
        };
        match granted.contains(needed) {
            true => Ok(()),
            false => Err(Denied(match op {
                Operation::Create => "no Create right on this object",
                Operation::Read | Operation::WriteAttributes => "no Read right on this instance",
                Operation::Write => "no Write right on this instance",
                Operation::Execute => "no Execute right on this instance",
                Operation::Delete => "no Delete right on this instance",
                Operation::Discover => "Discover needs no right",
            })),
        }
    }

    /// Whether an object-level Read or Observe of `/o` carries instance `i`.
    pub(crate) fn may_read(&self, store: &Store, o: u16, i: u16) -> bool {
        self.check(store, Operation::Read, o, Some(i)).is_ok()
    }

    /// The rules for the Access Control object's own instances (module doc).
    fn check_access_control(
        &self,
        store: &Store,
        op: Operation,
        i: Option<u16>,
    ) -> Result<(), Denied> {
        match (op, i) {
            (Operation::Read | Operation::WriteAttributes | Operation::Discover, _) => Ok(()),
            (Operation::Create | Operation::Delete, _) => Err(Denied(
                "Access Control instances are made by the client and the Bootstrap-Server",
            )),
            (Operation::Write | Operation::Execute, None) => Ok(()),
            (Operation::Write | Operation::Execute, Some(i)) => {
                let owner = store
                    .instance(oid::ACCESS_CONTROL, i)
                    .and_then(|res| int(res, res::OWNER));
                // An owner of 65535 (bootstrap only) is never a server's Short Server ID.
                match owner == Some(i64::from(self.ssid)) {
                    true => Ok(()),
                    false => Err(Denied(
                        "only its Access Control Owner manages an Access Control instance",
                    )),
                }
            }
        }
    }

    /// The ACL instance for `/o/i`, just created by this server, when the rules apply and no
    /// ACL instance names it yet: its instance ID and resources. Err when object 2 already holds
    /// `max_instances` (the Create is then refused, 5.00 like any full object: an instance
    /// without its ACL would be lost to its own creator).
    pub(crate) fn acl_for_created(
        &self,
        store: &Store,
        o: u16,
        i: u16,
        max_instances: usize,
    ) -> Result<Option<(u16, Resources)>, String> {
        if !self.enforced || o == oid::ACCESS_CONTROL || acl_instance(store, o, i).is_some() {
            return Ok(None);
        }
        let existing = store.instances(oid::ACCESS_CONTROL).map_or(0, |m| m.len());
        let free = store.free_instance_id(oid::ACCESS_CONTROL);
        let (true, Some(iid)) = (existing < max_instances, free) else {
            return Err(format!(
                "object 2 holds its maximum of {max_instances} instances: no room for the ACL of /{o}/{i}"
            ));
        };
        let int = |v: u16| ResourceValue::Single(Value::Integer(i64::from(v)));
        let full = Rights::ALL.without(Rights::CREATE);
        let entries = [(self.ssid, Value::Integer(i64::from(full.bits())))]
            .into_iter()
            .collect();
        let mut r = Resources::new();
        r.insert(res::OBJECT_ID, int(o));
        r.insert(res::INSTANCE_ID, int(i));
        r.insert(res::ACL, ResourceValue::Multiple(entries));
        r.insert(res::OWNER, int(self.ssid));
        Ok(Some((iid, r)))
    }

    /// Checks the ACL and Owner values a server writes into an Access Control instance: every
    /// ACL resource instance ID is 0 or a configured server's Short Server ID and holds a
    /// 16-bit value, the Owner is a configured server or 65535. Applies in every context (it
    /// is what keeps an ACL bounded).
    pub(crate) fn check_acl_write(
        &self,
        store: &Store,
        iid: u16,
        incoming: &Resources,
    ) -> Result<(), String> {
        let servers = accounts::server_ssids(store);
        if let Some(rv) = incoming.get(&res::ACL) {
            let ResourceValue::Multiple(entries) = rv else {
                return Err(format!("/2/{iid}/2 is a multiple resource"));
            };
            for (riid, v) in entries {
                if *riid != DEFAULT_ENTRY && !servers.contains(riid) {
                    return Err(format!(
                        "/2/{iid}/2/{riid}: {riid} is no configured Short Server ID"
                    ));
                }
                if v.as_i64().is_none_or(|x| u16::try_from(x).is_err()) {
                    return Err(format!("/2/{iid}/2/{riid} is not a 16-bit value"));
                }
            }
        }
        if let Some(rv) = incoming.get(&res::OWNER) {
            let owner = rv.single().and_then(Value::as_i64);
            let valid = owner
                .and_then(|v| u16::try_from(v).ok())
                .is_some_and(|v| v == BOOTSTRAP_OWNER || servers.contains(&v));
            if !valid {
                return Err(format!(
                    "/2/{iid}/3 must be a configured Short Server ID or 65535"
                ));
            }
        }
        Ok(())
    }
}

fn int(res: &Resources, rid: u16) -> Option<i64> {
    res.get(&rid)?.single()?.as_i64()
}

/// The ACL instance that names `/o/i` (the lowest instance ID if several do).
pub(crate) fn acl_instance(store: &Store, o: u16, i: u16) -> Option<(u16, &Resources)> {
    store
        .instances(oid::ACCESS_CONTROL)?
        .iter()
        .find(|(_, res)| {
            int(res, res::OBJECT_ID) == Some(i64::from(o))
                && int(res, res::INSTANCE_ID) == Some(i64::from(i))
        })
        .map(|(iid, res)| (*iid, res))
}

/// The rights server `ssid` has on `/o/i` (`i` = 65535: on the object, for Create) by the
/// lookup in the module doc, whether or not the rules apply.
pub(crate) fn rights(store: &Store, ssid: u16, o: u16, i: u16) -> Rights {
    let Some((_, inst)) = acl_instance(store, o, i) else {
        return Rights::NONE;
    };
    let entries = match inst.get(&res::ACL) {
        Some(ResourceValue::Multiple(m)) => Some(m),
        _ => None,
    };
    if let Some(v) = entries.and_then(|m| m.get(&ssid)) {
        return Rights::from_value(v);
    }
    if int(inst, res::OWNER) == Some(i64::from(ssid)) {
        return Rights::ALL;
    }
    entries
        .and_then(|m| m.get(&DEFAULT_ENTRY))
        .map_or(Rights::NONE, Rights::from_value)
}

/// Removes the ACL instances that name `/o/i` (the instance was deleted). Returns how many.
pub(crate) fn forget_instance(store: &mut Store, o: u16, i: u16) -> usize {
    let mut gone = 0;
    while let Some((iid, _)) = acl_instance(store, o, i) {
        if !store.remove_instance(oid::ACCESS_CONTROL, iid) {
            break;
        }
        gone += 1;
    }
    gone
}

/// The Access Control instances' part of the Bootstrap-Finish consistency check (Core 1.1
/// §5.2.6, FACTS §1.9: "any detected inconsistency MUST be reported"): Object ID in 1..65534,
/// Object Instance ID in 0..65535, Owner in 0..65535 (models/2-1_0.xml ranges; missing
/// Mandatory resources are reported with the other objects'), and one ACL instance per target
/// (Core 1.1 §7.3.1 "a unique Access Control Object Instance is assigned per Object
/// Instance").
pub(crate) fn validate(store: &Store) -> Vec<String> {
    let mut problems = Vec::new();
    let mut targets = BTreeSet::new();
    for (iid, res) in store.instances(oid::ACCESS_CONTROL).into_iter().flatten() {
        let p = |r: u16| Path::resource(oid::ACCESS_CONTROL, *iid, r);
        let o = int(res, res::OBJECT_ID);
        let i = int(res, res::INSTANCE_ID);
        if o.is_some_and(|o| !(1..=65534).contains(&o)) {
            problems.push(format!(
                "{} is not an Object ID (1..65534)",
                p(res::OBJECT_ID)
            ));
        }
        if i.is_some_and(|i| u16::try_from(i).is_err()) {
            problems.push(format!(
                "{} is not an Object Instance ID (0..65535)",
                p(res::INSTANCE_ID)
            ));
        }
        if int(res, res::OWNER).is_some_and(|v| u16::try_from(v).is_err()) {
            problems.push(format!("{} is not an owner (0..65535)", p(res::OWNER)));
        }
        if let (Some(o), Some(i)) = (o, i) {
            if !targets.insert((o, i)) {
                problems.push(format!("two Access Control instances are about /{o}/{i}"));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests;
