//! The decision function against the rules in the module doc (Core 1.1 §7.3, FACTS §2.3,
//! models/2-1_0.xml): every right bit against every operation, the owner, the default entry,
//! Create on `/O`, the contexts where nothing is enforced, and the Access Control object's own
//! instances.

use crate::value::VecMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::*;
use crate::accounts::factory;

const ALL_OPS: [Operation; 7] = [
    Operation::Read,
    Operation::WriteAttributes,
    Operation::Discover,
    Operation::Write,
    Operation::Execute,
    Operation::Delete,
    Operation::Create,
];

/// Two server accounts (Short Server IDs 1 and 2) and a Device instance.
fn two_servers() -> Store {
    let mut s = Store::with_standard_objects();
    factory::add_server_account(&mut s, 1, "coap://127.0.0.1:5683", 60).unwrap();
    factory::add_server_account(&mut s, 2, "coap://127.0.0.1:5693", 60).unwrap();
    factory::add_device(&mut s, "ACME", "ACL-1", "0001").unwrap();
    s
}

/// An ACL instance `/2/iid` about `/o/i` with `entries` (RIID → value) and `owner`.
fn acl(s: &mut Store, iid: u16, o: u16, i: u16, entries: &[(u16, i64)], owner: u16) {
    let int = |v: i64| ResourceValue::Single(Value::Integer(v));
    let mut r = Resources::new();
    r.insert(res::OBJECT_ID, int(i64::from(o)));
    r.insert(res::INSTANCE_ID, int(i64::from(i)));
    let m: VecMap<u16, Value> = entries
        .iter()
        .map(|(k, v)| (*k, Value::Integer(*v)))
        .collect();
    r.insert(res::ACL, ResourceValue::Multiple(m));
    r.insert(res::OWNER, int(i64::from(owner)));
    s.create_instance(oid::ACCESS_CONTROL, iid, r).unwrap();
}

fn allowed(s: &Store, ssid: u16, op: Operation, o: u16, i: Option<u16>) -> bool {
    Access::of(s, ssid).check(s, op, o, i).is_ok()
}

/// What server 2 may do on `/1/0` (and Create on `/1`) with the ACL value `bits` for it both
/// on the instance and at object level.
fn ops_granted(bits: i64) -> Vec<Operation> {
    let mut s = two_servers();
    acl(&mut s, 0, 1, 0, &[(2, bits)], 1);
    acl(&mut s, 1, 1, OBJECT_LEVEL, &[(2, bits)], BOOTSTRAP_OWNER);
    let on = |op: Operation| match op {
        Operation::Create => None,
        _ => Some(0),
    };
    ALL_OPS
        .into_iter()
        .filter(|op| allowed(&s, 2, *op, 1, on(*op)))
        .collect()
}

#[test]
fn every_right_bit_grants_exactly_its_operations() {
    use Operation::*;
    // models/2-1_0.xml: 1st LSB R (Read, Observe, Write-Attributes), 2nd W, 3rd E, 4th D,
    // 5th C; FACTS §2.3: Discover needs none.
    assert_eq!(ops_granted(0), [Discover]);
    assert_eq!(ops_granted(1), [Read, WriteAttributes, Discover]);
    assert_eq!(ops_granted(2), [Discover, Write]);
    assert_eq!(ops_granted(4), [Discover, Execute]);
    assert_eq!(ops_granted(8), [Discover, Delete]);
    assert_eq!(ops_granted(16), [Discover, Create]);
    assert_eq!(ops_granted(31), ALL_OPS);
    assert_eq!(
        ops_granted(1 | 8),
        [Read, WriteAttributes, Discover, Delete]
    );
    // Reserved bits grant nothing; a value that is no 16-bit integer grants nothing at all.
    assert_eq!(ops_granted(0xFFE0), [Discover]);
    assert_eq!(ops_granted(0x8002), [Discover, Write]);
    assert_eq!(ops_granted(-1), [Discover]);
    assert_eq!(ops_granted(65536 | 1), [Discover]);
}

#[test]
fn each_operation_needs_its_bit() {
    assert_eq!(Operation::Read.needs(), Rights::READ);
    assert_eq!(Operation::WriteAttributes.needs(), Rights::READ);
    assert_eq!(Operation::Discover.needs(), Rights::NONE);
    assert_eq!(Operation::Write.needs(), Rights::WRITE);
    assert_eq!(Operation::Execute.needs(), Rights::EXECUTE);
    assert_eq!(Operation::Delete.needs(), Rights::DELETE);
    assert_eq!(Operation::Create.needs(), Rights::CREATE);
    assert_eq!(
        Rights::from_value(&Value::String("31".into())),
        Rights::NONE
    );
    assert_eq!(Rights::from_value(&Value::Unsigned(3)), Rights(3));
}

#[test]
fn the_owner_without_an_entry_has_every_right_with_one_only_that() {
    let mut s = two_servers();
    acl(&mut s, 0, 3, 0, &[], 1);
    acl(&mut s, 1, 1, 0, &[(1, 1)], 1);
    assert_eq!(rights(&s, 1, 3, 0), Rights::ALL);
    for op in ALL_OPS.into_iter().filter(|op| *op != Operation::Create) {
        assert!(allowed(&s, 1, op, 3, Some(0)), "{op:?}");
    }
    // Its own entry is what it has (FACTS §2.3: "own ACL entry → use it").
    assert_eq!(rights(&s, 1, 1, 0), Rights::READ);
    assert!(allowed(&s, 1, Operation::Read, 1, Some(0)));
    assert!(!allowed(&s, 1, Operation::Write, 1, Some(0)));
    // The other server has nothing on either.
    assert_eq!(rights(&s, 2, 3, 0), Rights::NONE);
    assert!(!allowed(&s, 2, Operation::Read, 3, Some(0)));
}

#[test]
fn the_default_entry_serves_servers_without_their_own() {
    let mut s = two_servers();
    // RIID 0: "the default access rights"; server 2's own entry wins over it.
    acl(&mut s, 0, 3, 0, &[(DEFAULT_ENTRY, 1)], BOOTSTRAP_OWNER);
    acl(
        &mut s,
        1,
        1,
        0,
        &[(DEFAULT_ENTRY, 31), (2, 0)],
        BOOTSTRAP_OWNER,
    );
    for ssid in [1, 2] {
        assert_eq!(rights(&s, ssid, 3, 0), Rights::READ);
        assert!(allowed(&s, ssid, Operation::Read, 3, Some(0)));
        assert!(!allowed(&s, ssid, Operation::Execute, 3, Some(0)));
    }
    assert_eq!(rights(&s, 1, 1, 0), Rights::ALL);
    assert_eq!(rights(&s, 2, 1, 0), Rights::NONE);
}

#[test]
fn the_owner_comes_before_the_default() {
    let mut s = two_servers();
    acl(&mut s, 0, 3, 0, &[(DEFAULT_ENTRY, 1)], 2);
    assert_eq!(rights(&s, 2, 3, 0), Rights::ALL);
    assert_eq!(rights(&s, 1, 3, 0), Rights::READ);
}

#[test]
fn an_instance_without_an_acl_instance_gives_no_rights() {
    let mut s = two_servers();
    acl(&mut s, 0, 3, 0, &[(DEFAULT_ENTRY, 31)], BOOTSTRAP_OWNER);
    assert!(Access::of(&s, 1).enforced());
    for op in ALL_OPS.into_iter().filter(|op| *op != Operation::Discover) {
        let i = (op != Operation::Create).then_some(0);
        assert!(!allowed(&s, 1, op, 1, i), "{op:?}");
        assert!(!allowed(&s, 2, op, 1, i), "{op:?}");
    }
    assert!(allowed(&s, 1, Operation::Discover, 1, Some(0)));
}

#[test]
fn create_is_governed_by_the_object_level_instance_only() {
    let mut s = two_servers();
    // C on the instance /1/0 is no Create right on /1.
    acl(&mut s, 0, 1, 0, &[(2, 31)], 1);
    assert!(!allowed(&s, 2, Operation::Create, 1, None));
    // The object-level instance (Object Instance ID 65535), by the same lookup: entry,
    // owner, default.
    acl(
        &mut s,
        1,
        1,
        OBJECT_LEVEL,
        &[(DEFAULT_ENTRY, 16), (2, 1)],
        1,
    );
    assert!(allowed(&s, 1, Operation::Create, 1, None), "owner");
    assert!(!allowed(&s, 2, Operation::Create, 1, None), "own entry R");
    acl(
        &mut s,
        2,
        3,
        OBJECT_LEVEL,
        &[(DEFAULT_ENTRY, 16)],
        BOOTSTRAP_OWNER,
    );
    assert!(allowed(&s, 2, Operation::Create, 3, None), "default C");
    // An object-level Read, Write-Attributes (or an invalid target) asks no instance's right.
    for op in [
        Operation::Read,
        Operation::WriteAttributes,
        Operation::Write,
    ] {
        assert!(allowed(&s, 2, op, 4, None), "{op:?}");
    }
}

#[test]
fn nothing_is_enforced_for_a_single_server_or_without_acl_instances() {
    // Core 1.1 §7.3: a single server has full access, whatever the ACLs say.
    let mut one = Store::with_standard_objects();
    factory::add_server_account(&mut one, 1, "coap://127.0.0.1:5683", 60).unwrap();
    acl(&mut one, 0, 3, 0, &[(1, 0)], BOOTSTRAP_OWNER);
    assert!(!Access::of(&one, 1).enforced());
    for op in ALL_OPS {
        assert!(allowed(&one, 1, op, 3, Some(0)), "{op:?}");
        assert!(allowed(&one, 1, op, 2, Some(0)), "{op:?} on /2/0");
    }
    // Two servers and no ACL instance: the Access-Control-Disabled context (FACTS §2.3).
    let two = two_servers();
    assert!(!Access::of(&two, 2).enforced());
    assert!(allowed(&two, 2, Operation::Write, 3, Some(0)));
    assert!(allowed(&two, 2, Operation::Create, 3, None));
    // A store without object 2 supports no access control.
    let mut bare = Store::new();
    bare.define(crate::model::SECURITY.clone(), true);
    bare.define(crate::model::SERVER.clone(), true);
    factory::add_server_account(&mut bare, 1, "coap://127.0.0.1:5683", 60).unwrap();
    factory::add_server_account(&mut bare, 2, "coap://127.0.0.1:5693", 60).unwrap();
    assert!(!Access::of(&bare, 1).enforced());
}

#[test]
fn security_objects_are_never_accessible() {
    let mut s = two_servers();
    for store in [s.clone(), {
        acl(&mut s, 0, 0, 0, &[(DEFAULT_ENTRY, 31)], 1);
        s
    }] {
        for op in ALL_OPS {
            for o in [oid::SECURITY, oid::OSCORE] {
                assert!(!allowed(&store, 1, op, o, Some(0)), "{op:?} /{o}/0");
                assert!(!allowed(&store, 1, op, o, None), "{op:?} /{o}");
            }
        }
    }
}

#[test]
fn access_control_instances_are_read_by_all_and_managed_by_their_owner() {
    let mut s = two_servers();
    acl(&mut s, 0, 3, 0, &[(2, 31)], 1);
    acl(&mut s, 1, 1, 0, &[(1, 31), (2, 31)], BOOTSTRAP_OWNER);
    for ssid in [1, 2] {
        for op in [
            Operation::Read,
            Operation::WriteAttributes,
            Operation::Discover,
        ] {
            assert!(
                allowed(&s, ssid, op, oid::ACCESS_CONTROL, Some(0)),
                "{op:?}"
            );
            assert!(
                allowed(&s, ssid, op, oid::ACCESS_CONTROL, Some(1)),
                "{op:?}"
            );
        }
        assert!(!allowed(
            &s,
            ssid,
            Operation::Create,
            oid::ACCESS_CONTROL,
            None
        ));
        assert!(!allowed(
            &s,
            ssid,
            Operation::Delete,
            oid::ACCESS_CONTROL,
            Some(0)
        ));
        // Owner 65535: "created and modified during a Bootstrap phase only".
        assert!(!allowed(
            &s,
            ssid,
            Operation::Write,
            oid::ACCESS_CONTROL,
            Some(1)
        ));
    }
    // Only the owner writes /2/0, whatever rights the ACL gives server 2 on /3/0.
    assert!(allowed(
        &s,
        1,
        Operation::Write,
        oid::ACCESS_CONTROL,
        Some(0)
    ));
    assert!(!allowed(
        &s,
        2,
        Operation::Write,
        oid::ACCESS_CONTROL,
        Some(0)
    ));
    assert!(!allowed(
        &s,
        2,
        Operation::Execute,
        oid::ACCESS_CONTROL,
        Some(0)
    ));
    assert!(
        !allowed(&s, 1, Operation::Write, oid::ACCESS_CONTROL, Some(7)),
        "absent"
    );
}

#[test]
fn object_level_reads_carry_only_readable_instances() {
    let mut s = two_servers();
    acl(&mut s, 0, 1, 0, &[], 1);
    acl(&mut s, 1, 1, 1, &[(DEFAULT_ENTRY, 1)], 2);
    let a = Access::of(&s, 2);
    assert!(!a.may_read(&s, 1, 0));
    assert!(a.may_read(&s, 1, 1));
    let a = Access::of(&s, 1);
    assert!(a.may_read(&s, 1, 0));
    assert!(a.may_read(&s, 1, 1));
}

#[test]
fn the_first_of_two_acl_instances_for_one_target_is_used_and_finish_refuses_them() {
    let mut s = two_servers();
    acl(&mut s, 4, 3, 0, &[(2, 1)], 1);
    acl(&mut s, 9, 3, 0, &[(2, 31)], 1);
    assert_eq!(rights(&s, 2, 3, 0), Rights::READ);
    assert_eq!(
        validate(&s),
        [String::from("two Access Control instances are about /3/0")]
    );
}

#[test]
fn finish_reports_acl_targets_out_of_range() {
    let mut s = two_servers();
    acl(&mut s, 0, 3, 0, &[], 1);
    assert!(validate(&s).is_empty());
    let mut bad = Resources::new();
    let int = |v: i64| ResourceValue::Single(Value::Integer(v));
    bad.insert(res::OBJECT_ID, int(0));
    bad.insert(res::INSTANCE_ID, int(70000));
    bad.insert(res::OWNER, int(-1));
    s.create_instance(oid::ACCESS_CONTROL, 1, bad).unwrap();
    assert_eq!(
        validate(&s),
        [
            String::from("/2/1/0 is not an Object ID (1..65534)"),
            String::from("/2/1/1 is not an Object Instance ID (0..65535)"),
            String::from("/2/1/3 is not an owner (0..65535)"),
        ]
    );
}

#[test]
fn a_created_instance_gets_an_acl_owned_by_its_creator() {
    let mut s = two_servers();
    acl(
        &mut s,
        0,
        1,
        OBJECT_LEVEL,
        &[(DEFAULT_ENTRY, 16)],
        BOOTSTRAP_OWNER,
    );
    let a = Access::of(&s, 2);
    let (iid, r) = a.acl_for_created(&s, 1, 5, 32).unwrap().unwrap();
    assert_eq!(iid, 1);
    s.create_instance(oid::ACCESS_CONTROL, iid, r).unwrap();
    // Every right but C (meaningless on an instance) for the creator, which owns it.
    assert_eq!(rights(&s, 2, 1, 5), Rights(15));
    assert_eq!(
        s.value(&Path::resource(oid::ACCESS_CONTROL, 1, res::OWNER)),
        Some(&Value::Integer(2))
    );
    assert_eq!(rights(&s, 1, 1, 5), Rights::NONE);
    // One already there (provisioned by the Bootstrap-Server) is kept.
    assert_eq!(a.acl_for_created(&s, 1, 5, 32), Ok(None));
    // No room left in object 2: the Create is refused.
    assert!(a.acl_for_created(&s, 1, 6, 2).is_err());
    // Nothing is made while the rules do not apply.
    let two = two_servers();
    assert_eq!(
        Access::of(&two, 2).acl_for_created(&two, 1, 5, 32),
        Ok(None)
    );
}

#[test]
fn deleting_an_instance_forgets_its_acl_instances() {
    let mut s = two_servers();
    acl(&mut s, 0, 1, 5, &[], 1);
    acl(&mut s, 1, 3, 0, &[], 1);
    acl(&mut s, 2, 1, 5, &[], 2);
    assert_eq!(forget_instance(&mut s, 1, 5), 2);
    assert_eq!(s.instance_ids(oid::ACCESS_CONTROL), [1]);
    assert_eq!(forget_instance(&mut s, 1, 5), 0);
}

#[test]
fn acl_writes_name_configured_servers_only() {
    let s = two_servers();
    let a = Access::of(&s, 1);
    let entries = |e: &[(u16, i64)]| {
        let m = e.iter().map(|(k, v)| (*k, Value::Integer(*v))).collect();
        [(res::ACL, ResourceValue::Multiple(m))]
            .into_iter()
            .collect::<Resources>()
    };
    let owner = |v: i64| {
        [(res::OWNER, ResourceValue::Single(Value::Integer(v)))]
            .into_iter()
            .collect::<Resources>()
    };
    assert_eq!(
        a.check_acl_write(&s, 0, &entries(&[(0, 1), (1, 31), (2, 7)])),
        Ok(())
    );
    assert!(
        a.check_acl_write(&s, 0, &entries(&[(3, 1)])).is_err(),
        "no server 3"
    );
    assert!(a.check_acl_write(&s, 0, &entries(&[(2, 65536)])).is_err());
    assert!(a.check_acl_write(&s, 0, &entries(&[(2, -1)])).is_err());
    for ok in [1, 2, 65535] {
        assert_eq!(a.check_acl_write(&s, 0, &owner(ok)), Ok(()), "{ok}");
    }
    for bad in [0, 3, -1, 65536] {
        assert!(a.check_acl_write(&s, 0, &owner(bad)).is_err(), "{bad}");
    }
    let single: Resources = [(res::ACL, ResourceValue::Single(Value::Integer(1)))]
        .into_iter()
        .collect();
    assert!(a.check_acl_write(&s, 0, &single).is_err());
}

#[test]
fn the_servers_counted_are_the_complete_accounts() {
    let mut s = two_servers();
    factory::add_bootstrap_account(&mut s, "coap://127.0.0.1:5783", 0).unwrap();
    // A Server instance without its Security instance is no account.
    let mut lone = Resources::new();
    lone.insert(0, ResourceValue::Single(Value::Integer(7)));
    s.create_instance(oid::SERVER, 9, lone).unwrap();
    let accounts: BTreeSet<u16> = accounts::server_accounts(&s)
        .iter()
        .map(|a| a.ssid)
        .collect();
    assert_eq!(accounts::server_ssids(&s), accounts);
    assert_eq!(accounts, [1, 2].into_iter().collect());
}
