//! The snapshot loader: arbitrary bytes in the two storage slots. Decoding, applying and the A/B
//! persister's load never panic; a snapshot that decodes and applies re-encodes to the same
//! content; and a good snapshot saved after whatever was there loads back, newest first.
//!
//! Input: a mode byte, a generation, then slot A and slot B as 16-bit-length-prefixed chunks.
//! Mode bits 0 and 1 wrap slot A / B as a snapshot *body* with a correct header and CRC, so the
//! fuzzer gets past the checksum into the body parser; bits 2 and 3 leave slot A / B empty.

use std::sync::OnceLock;

use lwm2mc::accounts::factory;
use lwm2mc::persist::{
    self, apply_snapshot, decode_snapshot, encode_snapshot, LoadOutcome, MemoryStorage, Persister,
    Slot, Storage,
};
use lwm2mc::{Client, Config, Store};

use super::codecs::same_instances;
use super::input::Input;

/// Header + body + CRC around `body`, as `persist` lays a version-1 snapshot out.
pub fn wrap_body(generation: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 22);
    out.extend_from_slice(b"LWMC");
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    let crc = persist::crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// The factory store of a device that bootstraps, with one LwM2M Server account (built once).
pub fn factory_store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut s = Store::with_standard_objects();
        let _ = factory::add_bootstrap_account(&mut s, "coap://127.0.0.1:5783", 0);
        let _ = factory::add_server_account(&mut s, 101, "coap://127.0.0.1:5683", 300);
        let _ = factory::add_device(&mut s, "ACME", "Fuzz-1", "0001");
        s
    })
}

/// The store of a device before anything was loaded into it (built once).
fn standard_store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(Store::with_standard_objects)
}

/// What `decode` gives for a slot's bytes, checked against apply + re-encode.
fn check_slot(bytes: &[u8]) {
    let Ok(snap) = decode_snapshot(bytes) else {
        return;
    };
    let before = standard_store();
    let mut store = before.clone();
    match apply_snapshot(&snap, &mut store) {
        Err(_) => assert!(store == *before, "a refused snapshot changed the store"),
        Ok(()) => {
            let again = decode_snapshot(&encode_snapshot(&store, snap.generation))
                .expect("a snapshot we wrote does not decode");
            assert_eq!(again.generation, snap.generation);
            for (oid, instances) in &again.objects {
                let expected = snap
                    .objects
                    .get(oid)
                    .cloned()
                    .unwrap_or_else(|| before.instances(*oid).cloned().unwrap_or_default());
                assert!(
                    same_instances(instances, &expected),
                    "object {oid} changed between apply and re-encode"
                );
            }
        }
    }
}

pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let mode = inp.u8();
    // Mode bits 6–7 pick the range of generations: small ones, or near the top (to reach the
    // end of the counter).
    let low = u64::from(inp.u32());
    let generation = match mode >> 6 {
        3 => u64::MAX - (low & 3),
        2 => u64::MAX - low,
        _ => low,
    };
    let raw_a = inp.chunk16();
    let raw_b = inp.rest();
    let a = (mode & 1 != 0).then(|| wrap_body(generation, raw_a));
    let b = (mode & 2 != 0).then(|| wrap_body(generation ^ 1, raw_b));
    let a = a.as_deref().unwrap_or(raw_a);
    let b = b.as_deref().unwrap_or(raw_b);

    let mut storage = MemoryStorage::new();
    let p = Persister::new();
    if mode & 4 == 0 {
        check_slot(a);
        let _ = storage.store(p.key(Slot::A), a);
    }
    if mode & 8 == 0 {
        check_slot(b);
        let _ = storage.store(p.key(Slot::B), b);
    }

    // The newest valid generation in the slots, as load must see it.
    let valid: Vec<u64> = [Slot::A, Slot::B]
        .iter()
        .filter_map(|s| storage.get(p.key(*s)))
        .filter_map(|bytes| decode_snapshot(bytes).ok())
        .map(|s| s.generation)
        .collect();
    let newest = valid.iter().copied().max();

    let mut persister = Persister::new();
    match persister.load(&mut storage) {
        Ok(LoadOutcome::Empty) => assert!(
            storage.is_empty(),
            "load says empty, but a slot holds something"
        ),
        Ok(outcome) => {
            let got = outcome.snapshot().map(|s| s.generation);
            assert_eq!(got, newest, "load did not pick the newest valid snapshot");
        }
        Err(_) => assert!(newest.is_none(), "load failed although a slot is valid"),
    }

    // A client booting from these slots never panics and ends up with some configuration.
    let client = Client::with_storage(
        Config::new("fuzz"),
        factory_store().clone(),
        Box::new(storage.clone()),
    );
    drop(client);

    // A good snapshot written now must be what the next boot loads.
    let good = factory_store();
    let saved = match persister.save(&mut storage, good) {
        Ok(g) => g,
        Err(_) => {
            assert_eq!(newest, Some(u64::MAX), "save failed for no reason");
            return;
        }
    };
    assert_eq!(saved, newest.map_or(1, |g| g + 1), "wrong generation saved");
    let mut fresh = Persister::new();
    let outcome = fresh
        .load(&mut storage)
        .expect("the snapshot just saved does not load");
    let snap = outcome
        .snapshot()
        .expect("the snapshot just saved is missing");
    assert_eq!(snap.generation, saved);
    let mut restored = standard_store().clone();
    apply_snapshot(snap, &mut restored).expect("the snapshot just saved does not apply");
    for oid in [0u16, 1, 2] {
        assert_eq!(
            restored.instances(oid),
            good.instances(oid),
            "object {oid} not restored"
        );
    }
}
