use super::*;
use crate::model::{ObjectDef, Operations, ResourceDef};
use crate::path::Path;
use crate::rng::Rng;
use crate::store::Store;
use crate::value::ResourceType;
use crate::value::{Instances, ResourceValue, Value};
use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

const TEST_OID: u16 = 33000;

fn samples() -> [Value; 9] {
    [
        Value::String("coaps://lwm2m.example:5684".to_string()),
        Value::Integer(-1234567890123),
        Value::Unsigned(u64::MAX),
        Value::Float(-2.5e-3),
        Value::Boolean(true),
        Value::Opaque(vec![0, 1, 0xFF, 0x80]),
        Value::Time(-86400),
        Value::Objlnk(65535, 65535),
        Value::Corelnk("</3/0>;ver=1.1".to_string()),
    ]
}

/// An object with, for each value type, a single resource `k` and a multiple one `100 + k`.
fn all_types_def() -> ObjectDef {
    let mut resources = Vec::new();
    for (k, v) in samples().iter().enumerate() {
        let k = k as u16;
        for (rid, multiple) in [(k, false), (100 + k, true)] {
            resources.push(ResourceDef {
                id: rid,
                name: Cow::Owned(format!("r{rid}")),
                kind: v.resource_type(),
                operations: Operations::RW,
                multiple,
                mandatory: false,
            });
        }
    }
    resources.sort_by_key(|r| r.id);
    ObjectDef {
        id: TEST_OID,
        name: Cow::Borrowed("All types"),
        version: Cow::Borrowed("1.0"),
        multiple: true,
        mandatory: false,
        resources: Cow::Owned(resources),
    }
}

fn base_store() -> Store {
    let mut s = Store::with_standard_objects();
    s.define(all_types_def(), true);
    s
}

/// Security, Server and the all-types object filled; Device (not persistent) too. `salt`
/// varies the content so that two stores can be told apart.
fn full_store(salt: i64) -> Store {
    let mut s = base_store();
    let p = Path::resource;
    s.set(
        &p(0, 0, 0),
        Value::String(format!("coap://bs{salt}.example")),
    )
    .unwrap();
    s.set(&p(0, 0, 1), Value::Boolean(true)).unwrap();
    s.set(&p(0, 0, 2), Value::Integer(3)).unwrap();
    s.set(&p(0, 1, 0), Value::String("coap://dm.example".to_string()))
        .unwrap();
    s.set(&p(0, 1, 1), Value::Boolean(false)).unwrap();
    s.set(&p(0, 1, 10), Value::Integer(salt)).unwrap();
    s.set(&p(1, 0, 0), Value::Integer(salt)).unwrap();
    s.set(&p(1, 0, 1), Value::Integer(300 + salt)).unwrap();
    s.set(&p(1, 0, 7), Value::String("U".to_string())).unwrap();
    for iid in [0u16, 7] {
        for (k, v) in samples().into_iter().enumerate() {
            let k = k as u16;
            s.set(&p(TEST_OID, iid, k), v.clone()).unwrap();
            for ri in [0u16, 3, 65534] {
                s.set(
                    &Path::resource_instance(TEST_OID, iid, 100 + k, ri),
                    v.clone(),
                )
                .unwrap();
            }
        }
    }
    s.set(&p(TEST_OID, 7, 1), Value::Integer(salt)).unwrap();
    s.set(&p(3, 0, 0), Value::String("ACME".to_string()))
        .unwrap();
    s
}

/// What a snapshot of `store` must hold: its persistent objects' instances.
fn persistent_content(store: &Store) -> BTreeMap<u16, Instances> {
    store
        .object_ids()
        .filter(|o| store.is_persistent(*o))
        .map(|o| (o, store.instances(o).cloned().unwrap_or_default()))
        .collect()
}

#[test]
fn crc32_check_value() {
    // The standard check value of CRC-32/ISO-HDLC.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn round_trip_every_type() {
    let store = full_store(5);
    let bytes = encode_snapshot(&store, 42);
    let snap = decode_snapshot(&bytes).unwrap();
    assert_eq!(snap.generation, 42);
    assert_eq!(snap.objects, persistent_content(&store));
    // Device (/3) is not persistent: absent even though it has an instance.
    assert!(store.has_instance(3, 0));
    assert!(!snap.objects.contains_key(&3));
    assert_eq!(
        snap.objects.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2, TEST_OID]
    );
    // Access Control has no instances but is persistent: present and empty.
    assert_eq!(snap.objects.get(&2), Some(&Instances::new()));

    // Restoring into a factory store gives back the persistent objects, not Device.
    let mut fresh = base_store();
    apply_snapshot(&snap, &mut fresh).unwrap();
    assert_eq!(persistent_content(&fresh), persistent_content(&store));
    assert!(!fresh.has_instance(3, 0));
}

#[test]
fn float_bits_survive() {
    let mut store = base_store();
    let nan = f64::from_bits(0x7FF8_0000_DEAD_BEEF);
    store
        .set(&Path::resource(TEST_OID, 0, 3), Value::Float(nan))
        .unwrap();
    store
        .set(
            &Path::resource_instance(TEST_OID, 0, 103, 0),
            Value::Float(-0.0),
        )
        .unwrap();
    let snap = decode_snapshot(&encode_snapshot(&store, 1)).unwrap();
    let inst = snap.objects.get(&TEST_OID).unwrap().get(&0).unwrap();
    let Some(ResourceValue::Single(Value::Float(f))) = inst.get(&3) else {
        panic!("float missing")
    };
    assert_eq!(f.to_bits(), 0x7FF8_0000_DEAD_BEEF);
    let Some(ResourceValue::Multiple(m)) = inst.get(&103) else {
        panic!("multiple float missing")
    };
    assert_eq!(
        m.get(&0).map(|v| match v {
            Value::Float(f) => f.to_bits(),
            _ => 0,
        }),
        Some((-0.0f64).to_bits())
    );
}

/// A one-object store: object 7 with Integer resource 1 (single) and String resource 2
/// (multiple), instance 4 holding 1 = -2 and 2 = {9: "hi"}.
fn tiny_store() -> Store {
    let mut s = Store::new();
    s.define(
        ObjectDef {
            id: 7,
            name: Cow::Borrowed("tiny"),
            version: Cow::Borrowed("1.0"),
            multiple: true,
            mandatory: false,
            resources: Cow::Owned(vec![
                ResourceDef::new(1, "i", ResourceType::Integer, Operations::RW, false, false),
                ResourceDef::new(2, "s", ResourceType::String, Operations::RW, true, false),
            ]),
        },
        true,
    );
    s.define(crate::model::DEVICE.clone(), false);
    s.set(&Path::resource(7, 4, 1), Value::Integer(-2)).unwrap();
    s.set(
        &Path::resource_instance(7, 4, 2, 9),
        Value::String("hi".to_string()),
    )
    .unwrap();
    s.set(&Path::resource(3, 0, 0), Value::String("ACME".to_string()))
        .unwrap();
    s
}

#[test]
fn exact_bytes_of_a_small_snapshot() {
    let bytes = encode_snapshot(&tiny_store(), 0x0102_0304_0506_0708);
    #[rustfmt::skip]
    let body: &[u8] = &[
        0, 0, 0, 1,             // one object (Device is not persistent)
        0, 7, 0, 0, 0, 1,       // object 7, one instance
        0, 4, 0, 0, 0, 2,       // instance 4, two resources
        0, 1, 0,                // resource 1, single
        2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, // Integer -2
        0, 2, 1, 0, 0, 0, 1,    // resource 2, multiple, one entry
        0, 9, 1, 0, 0, 0, 2, b'h', b'i', // entry 9: String "hi"
    ];
    #[rustfmt::skip]
    let header: [u8; 18] = [
        b'L', b'W', b'M', b'C',
        0, 1,
        1, 2, 3, 4, 5, 6, 7, 8,
        0, 0, 0, body.len() as u8,
    ];
    assert_eq!(bytes.get(..18), Some(&header[..]));
    assert_eq!(bytes.get(18..18 + body.len()), Some(body));
    assert_eq!(bytes.len(), 18 + body.len() + 4);
    let crc = crc32(bytes.get(..18 + body.len()).unwrap());
    assert_eq!(bytes.get(18 + body.len()..), Some(&crc.to_be_bytes()[..]));
}

#[test]
fn header_errors_are_told_apart() {
    let good = encode_snapshot(&tiny_store(), 3);
    assert_eq!(decode_snapshot(&[]), Err(PersistError::Truncated));
    assert_eq!(decode_snapshot(b"LW"), Err(PersistError::Truncated));
    assert_eq!(decode_snapshot(b"LWXC"), Err(PersistError::BadMagic));
    assert_eq!(decode_snapshot(b"{\"a\":1}"), Err(PersistError::BadMagic));
    let mut v2 = good.clone();
    v2[5] = 2;
    assert_eq!(
        decode_snapshot(&v2),
        Err(PersistError::UnsupportedVersion(2))
    );
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(decode_snapshot(&flipped), Err(PersistError::Checksum));
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(
        decode_snapshot(&longer),
        Err(PersistError::Malformed(_))
    ));
    // A body length near u32::MAX must not be trusted for anything but comparison.
    let mut huge = good.clone();
    huge[14..18].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(decode_snapshot(&huge), Err(PersistError::Truncated));
}

/// Rebuilds header and checksum around a hand-made body, to reach the body checks.
fn wrap(body: &[u8]) -> Vec<u8> {
    let mut out = b"LWMC".to_vec();
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&9u64.to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[test]
fn body_damage_with_a_valid_checksum_is_malformed() {
    #[rustfmt::skip]
    let cases: &[&[u8]] = &[
        &[0, 0, 0, 2, 0, 1, 0, 0, 0, 0],                          // second object missing
        &[0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],        // object 1 twice
        &[0, 0, 0, 2, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],        // IDs descending
        &[0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0], // shape tag 2
        &[0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 2], // boolean 2
        &[0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 10], // type tag 10
        &[0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xFF], // bad UTF-8
        &[0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 6, 0xFF, 0, 0, 0], // long opaque
        &[0, 0, 0, 0, 0],                                          // trailing body byte
    ];
    for body in cases {
        assert!(
            matches!(
                decode_snapshot(&wrap(body)),
                Err(PersistError::Malformed(_))
            ),
            "{body:?}"
        );
    }
    assert_eq!(
        decode_snapshot(&wrap(&[0, 0, 0, 0])).unwrap().objects,
        BTreeMap::new()
    );
}

#[test]
fn every_flip_and_truncation_is_rejected() {
    let good = encode_snapshot(&full_store(1), 77);
    for i in 0..good.len() {
        for mask in [0x01u8, 0x80, 0xFF, 0x5A] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            assert!(decode_snapshot(&bad).is_err(), "byte {i} ^ {mask:#x}");
        }
    }
    for n in 0..good.len() {
        assert!(decode_snapshot(&good[..n]).is_err(), "prefix {n}");
    }
    assert!(decode_snapshot(&good).is_ok());
}

#[test]
fn random_bytes_never_panic() {
    let good = encode_snapshot(&full_store(2), 5);
    let mut rng = Rng::new(0x5EED);
    for _ in 0..3000 {
        let mut bytes = match rng.range(0, 2) {
            // Pure noise, sometimes behind a valid header start.
            0 => (0..rng.range(0, 64))
                .map(|_| rng.next_u64() as u8)
                .collect(),
            1 => {
                let mut b = good.get(..6).unwrap().to_vec();
                b.extend((0..rng.range(0, 200)).map(|_| rng.next_u64() as u8));
                b
            }
            // A valid snapshot with a few bytes changed.
            _ => {
                let mut b = good.clone();
                for _ in 0..rng.range(1, 8) {
                    let i = rng.range(0, b.len() as u64 - 1) as usize;
                    b[i] = rng.next_u64() as u8;
                }
                b
            }
        };
        let _ = decode_snapshot(&bytes);
        // And the same noise with a correct checksum, to exercise the body parser.
        if bytes.len() > HEADER_LEN + CRC_LEN {
            let body = bytes[HEADER_LEN..bytes.len() - CRC_LEN].to_vec();
            bytes = wrap(&body);
            let _ = decode_snapshot(&bytes);
        }
    }
}

#[test]
fn apply_rejects_disagreeing_definitions_and_changes_nothing() {
    let snap = decode_snapshot(&encode_snapshot(&full_store(3), 1)).unwrap();

    // The target store says resource 1 of the test object is a String, not an Integer.
    let mut def = all_types_def();
    let mut res = def.resources.to_vec();
    res.iter_mut().find(|r| r.id == 1).unwrap().kind = ResourceType::String;
    def.resources = Cow::Owned(res);
    let mut target = Store::with_standard_objects();
    target.define(def, true);
    // Existing content that must survive the failed apply.
    target
        .set(&Path::resource(1, 9, 0), Value::Integer(99))
        .unwrap();
    target
        .set(
            &Path::resource(TEST_OID, 2, 1),
            Value::String("keep".to_string()),
        )
        .unwrap();
    let before = target.clone();
    // Server (/1) comes before the bad object and would be applied first by a naive loop.
    assert_eq!(
        apply_snapshot(&snap, &mut target),
        Err(PersistError::Mismatch(Path::resource(TEST_OID, 0, 1)))
    );
    assert_eq!(target, before);

    // Single vs multiple disagreement.
    let mut def = all_types_def();
    let mut res = def.resources.to_vec();
    res.iter_mut().find(|r| r.id == 0).unwrap().multiple = true;
    def.resources = Cow::Owned(res);
    let mut target = Store::with_standard_objects();
    target.define(def, true);
    let before = target.clone();
    assert_eq!(
        apply_snapshot(&snap, &mut target),
        Err(PersistError::Mismatch(Path::resource(TEST_OID, 0, 0)))
    );
    assert_eq!(target, before);

    // A resource the definition lacks, and two instances of a single-instance object.
    let mut s2 = snap.clone();
    s2.objects
        .get_mut(&1)
        .unwrap()
        .get_mut(&0)
        .unwrap()
        .insert(999, ResourceValue::Single(Value::Integer(1)));
    let mut target = Store::with_standard_objects();
    assert_eq!(
        apply_snapshot(&s2, &mut target),
        Err(PersistError::Mismatch(Path::resource(1, 0, 999)))
    );
    let mut def = all_types_def();
    def.multiple = false;
    let mut target = Store::with_standard_objects();
    target.define(def, true);
    let before = target.clone();
    assert_eq!(
        apply_snapshot(&snap, &mut target),
        Err(PersistError::Mismatch(Path::object(TEST_OID)))
    );
    assert_eq!(target, before);
}

#[test]
fn apply_skips_unknown_objects_and_replaces_known_ones() {
    let snap = decode_snapshot(&encode_snapshot(&full_store(4), 1)).unwrap();
    let mut target = Store::with_standard_objects(); // no test object defined
    target
        .set(&Path::resource(1, 5, 0), Value::Integer(1))
        .unwrap();
    apply_snapshot(&snap, &mut target).unwrap();
    assert_eq!(target.instances(1), snap.objects.get(&1));
    assert!(!target.has_instance(1, 5));
    assert!(target.def(TEST_OID).is_none());
}

// ---- persister ----

fn loaded_content(storage: &mut dyn Storage) -> Option<BTreeMap<u16, Instances>> {
    Persister::new()
        .load(storage)
        .unwrap()
        .into_snapshot()
        .map(|s| s.objects)
}

#[test]
fn persister_alternates_slots_and_counts_generations() {
    let mut mem = MemoryStorage::new();
    let mut p = Persister::new();
    assert_eq!(p.load(&mut mem), Ok(LoadOutcome::Empty));
    assert_eq!(p.save(&mut mem, &full_store(1)), Ok(1));
    assert_eq!(mem.keys().collect::<Vec<_>>(), ["lwm2mc.a"]);
    assert_eq!(p.save(&mut mem, &full_store(2)), Ok(2));
    assert_eq!(p.save(&mut mem, &full_store(3)), Ok(3));
    assert_eq!(mem.keys().collect::<Vec<_>>(), ["lwm2mc.a", "lwm2mc.b"]);
    assert_eq!(
        decode_snapshot(mem.get("lwm2mc.a").unwrap())
            .unwrap()
            .generation,
        3
    );
    assert_eq!(
        decode_snapshot(mem.get("lwm2mc.b").unwrap())
            .unwrap()
            .generation,
        2
    );

    let mut fresh = Persister::new();
    let out = fresh.load(&mut mem).unwrap();
    assert!(matches!(out, LoadOutcome::Loaded(_)));
    assert_eq!(out.snapshot().unwrap().generation, 3);
    assert_eq!(
        out.into_snapshot().unwrap().objects,
        persistent_content(&full_store(3))
    );
    assert_eq!(fresh.generation(), Some(3));
    // A persister that never loaded still finds the right slot and generation.
    assert_eq!(Persister::new().save(&mut mem, &full_store(4)), Ok(4));
    assert_eq!(
        decode_snapshot(mem.get("lwm2mc.b").unwrap())
            .unwrap()
            .generation,
        4
    );

    // Another prefix is another pair of keys.
    let mut other = Persister::with_prefix("dev2");
    assert_eq!(other.key(Slot::B), "dev2.b");
    assert_eq!(other.load(&mut mem), Ok(LoadOutcome::Empty));
    assert_eq!(other.save(&mut mem, &full_store(9)), Ok(1));
    assert!(mem.get("dev2.a").is_some());
}

#[test]
fn persister_load_with_damaged_slots() {
    let mut mem = MemoryStorage::new();
    let mut p = Persister::new();
    p.save(&mut mem, &full_store(1)).unwrap();
    p.save(&mut mem, &full_store(2)).unwrap(); // in B

    // Newest slot damaged: the older one is used, and the damage is reported.
    let mut m = mem.clone();
    m.store("lwm2mc.b", b"garbage").unwrap();
    let out = Persister::new().load(&mut m).unwrap();
    assert_eq!(
        out,
        LoadOutcome::Recovered {
            snapshot: decode_snapshot(mem.get("lwm2mc.a").unwrap()).unwrap(),
            ignored: PersistError::BadMagic,
        }
    );
    // The next save overwrites the damaged slot, never the valid one.
    let mut q = Persister::new();
    q.load(&mut m).unwrap();
    assert_eq!(q.save(&mut m, &full_store(3)), Ok(2));
    assert_eq!(
        decode_snapshot(m.get("lwm2mc.b").unwrap())
            .unwrap()
            .generation,
        2
    );
    assert_eq!(
        decode_snapshot(m.get("lwm2mc.a").unwrap())
            .unwrap()
            .generation,
        1
    );

    // Both damaged: an error, unsupported version preferred over the rest.
    let mut m = MemoryStorage::new();
    m.store("lwm2mc.a", b"LWMC\x00\x01short").unwrap();
    assert_eq!(Persister::new().load(&mut m), Err(PersistError::Truncated));
    let mut future = encode_snapshot(&tiny_store(), 8);
    future[5] = 7;
    m.store("lwm2mc.b", &future).unwrap();
    assert_eq!(
        Persister::new().load(&mut m),
        Err(PersistError::UnsupportedVersion(7))
    );
    // Saving over two damaged slots starts again at generation 1, in slot A.
    let mut p = Persister::new();
    assert!(p.load(&mut m).is_err());
    assert_eq!(p.save(&mut m, &tiny_store()), Ok(1));
    assert_eq!(m.get("lwm2mc.b"), Some(&future[..]));
    assert_eq!(
        loaded_content(&mut m),
        Some(persistent_content(&tiny_store()))
    );
}

/// How the write at the cut step ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cut {
    /// Nothing reaches the medium.
    Nothing,
    /// The key is replaced by the first half of the new data.
    Half,
    /// The first half of the new data lands over the old bytes, the rest stays old.
    Torn,
    /// Everything was written, but the call still reports failure.
    FullButFailed,
}

/// Simulates a power cut at write step `cut_at` (counting `store` and `erase` calls from 0):
/// that call does what `mode` says and fails, and every later call fails.
struct FaultyStorage {
    inner: MemoryStorage,
    cut_at: usize,
    mode: Cut,
    writes: usize,
    dead: bool,
}

impl FaultyStorage {
    fn new(inner: MemoryStorage, cut_at: usize, mode: Cut) -> FaultyStorage {
        FaultyStorage {
            inner,
            cut_at,
            mode,
            writes: 0,
            dead: false,
        }
    }

    fn power_cut() -> StorageError {
        StorageError::Io("power cut".to_string())
    }

    /// Counts a write; `true` if this is the cut step.
    fn step(&mut self) -> Result<bool, StorageError> {
        if self.dead {
            return Err(Self::power_cut());
        }
        let k = self.writes;
        self.writes += 1;
        if k == self.cut_at {
            self.dead = true;
            return Ok(true);
        }
        Ok(false)
    }
}

impl Storage for FaultyStorage {
    fn load(&mut self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        if self.dead {
            return Err(Self::power_cut());
        }
        self.inner.load(key)
    }

    fn store(&mut self, key: &str, data: &[u8]) -> Result<(), StorageError> {
        if !self.step()? {
            return self.inner.store(key, data);
        }
        let half = data.get(..data.len() / 2).unwrap_or(&[]);
        match self.mode {
            Cut::Nothing => {}
            Cut::Half => self.inner.store(key, half)?,
            Cut::Torn => {
                let mut old = self.inner.get(key).unwrap_or(&[]).to_vec();
                if old.len() < half.len() {
                    old.resize(half.len(), 0);
                }
                old[..half.len()].copy_from_slice(half);
                self.inner.store(key, &old)?;
            }
            Cut::FullButFailed => self.inner.store(key, data)?,
        }
        Err(Self::power_cut())
    }

    fn erase(&mut self, key: &str) -> Result<(), StorageError> {
        if !self.step()? {
            return self.inner.erase(key);
        }
        if self.mode == Cut::FullButFailed {
            self.inner.erase(key)?;
        }
        Err(Self::power_cut())
    }
}

/// How many storage writes one save makes.
fn writes_per_save(mem: &MemoryStorage, store: &Store) -> usize {
    let mut counting = FaultyStorage::new(mem.clone(), usize::MAX, Cut::Nothing);
    Persister::new().save(&mut counting, store).unwrap();
    counting.writes
}

#[test]
fn power_cut_at_every_step_leaves_old_or_new() {
    let s_new = full_store(200);
    let new = persistent_content(&s_new);
    // Torn writes need an old value in the target slot to tear: with 1..=4 earlier saves the
    // target is B (empty), A, B, A, each holding older snapshots from the second round on.
    for prior in 1..=4i64 {
        let mut mem = MemoryStorage::new();
        let mut p = Persister::new();
        for g in 1..=prior {
            p.save(&mut mem, &full_store(g)).unwrap();
        }
        let old = persistent_content(&full_store(prior));
        let n = writes_per_save(&mem, &s_new);
        assert_eq!(n, 1, "a save is one storage write");
        for k in 0..=n + 1 {
            for mode in [Cut::Nothing, Cut::Half, Cut::Torn, Cut::FullButFailed] {
                let ctx = format!("prior {prior}, cut at {k}, {mode:?}");
                let mut faulty = FaultyStorage::new(mem.clone(), k, mode);
                // Same persister state as the device had before the cut.
                let mut dev = p.clone();
                let saved = dev.save(&mut faulty, &s_new);
                let cut_in_save = k < n;
                assert_eq!(saved.is_err(), cut_in_save, "{ctx}");
                let mut surviving = faulty.inner;

                let got = loaded_content(&mut surviving).unwrap_or_else(|| panic!("{ctx}"));
                let expected = if cut_in_save && mode != Cut::FullButFailed {
                    &old
                } else {
                    &new
                };
                assert!(got == old || got == new, "{ctx}: a mix");
                assert!(got == *expected, "{ctx}");

                // After the reboot, saving works and later loads see the newest save.
                let mut rebooted = Persister::new();
                rebooted.load(&mut surviving).unwrap();
                let g = rebooted.save(&mut surviving, &full_store(300)).unwrap();
                assert_eq!(
                    loaded_content(&mut surviving),
                    Some(persistent_content(&full_store(300))),
                    "{ctx}"
                );
                rebooted.save(&mut surviving, &s_new).unwrap();
                let out = Persister::new().load(&mut surviving).unwrap();
                assert_eq!(out.snapshot().map(|s| s.generation), Some(g + 1), "{ctx}");
                assert_eq!(out.into_snapshot().map(|s| s.objects), Some(new.clone()));
            }
        }
    }
}

#[test]
fn save_after_a_failed_save_rereads_the_slots() {
    let mut mem = MemoryStorage::new();
    let mut p = Persister::new();
    p.save(&mut mem, &full_store(1)).unwrap(); // gen 1 in A
                                               // The write to B completes but reports failure.
    let mut faulty = FaultyStorage::new(mem, 0, Cut::FullButFailed);
    assert!(p.save(&mut faulty, &full_store(2)).is_err());
    assert_eq!(p.generation(), None);
    let mut mem = faulty.inner;
    // B holds gen 2 after all: the next save must go to A with gen 3, not over B.
    assert_eq!(p.save(&mut mem, &full_store(3)), Ok(3));
    assert_eq!(
        decode_snapshot(mem.get("lwm2mc.a").unwrap())
            .unwrap()
            .generation,
        3
    );
    assert_eq!(
        decode_snapshot(mem.get("lwm2mc.b").unwrap())
            .unwrap()
            .generation,
        2
    );
}

#[test]
fn storage_errors_on_load_are_not_guessed_around() {
    let mut mem = MemoryStorage::new();
    Persister::new().save(&mut mem, &tiny_store()).unwrap();
    let mut dead = FaultyStorage::new(mem, 0, Cut::Nothing);
    dead.dead = true;
    assert_eq!(
        Persister::new().load(&mut dead),
        Err(PersistError::Storage(StorageError::Io(
            "power cut".to_string()
        )))
    );
}
