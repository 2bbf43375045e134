//! C callback tables wrapped as the core's Rust traits (storage, application objects), and
//! conversions between `lwm2mc_value` and `Value`.

use std::ffi::CString;

use super::result::lwm2mc_result;
use super::types::*;
use crate::object::{ErrorCode, ObjectHandler};
use crate::persist::{Storage, StorageError};
use crate::value::{ResourceType, ResourceValue, Value};

/// `LWM2MC_TYPE_*` of a resource type.
pub(crate) fn type_code(t: ResourceType) -> u32 {
    match t {
        ResourceType::None => LWM2MC_TYPE_NONE,
        ResourceType::String => LWM2MC_TYPE_STRING,
        ResourceType::Integer => LWM2MC_TYPE_INTEGER,
        ResourceType::UnsignedInteger => LWM2MC_TYPE_UNSIGNED,
        ResourceType::Float => LWM2MC_TYPE_FLOAT,
        ResourceType::Boolean => LWM2MC_TYPE_BOOLEAN,
        ResourceType::Opaque => LWM2MC_TYPE_OPAQUE,
        ResourceType::Time => LWM2MC_TYPE_TIME,
        ResourceType::Objlnk => LWM2MC_TYPE_OBJLNK,
        ResourceType::Corelnk => LWM2MC_TYPE_CORELNK,
    }
}

/// The resource type of a `LWM2MC_TYPE_*` code.
pub(crate) fn type_from_code(code: u32) -> Option<ResourceType> {
    Some(match code {
        LWM2MC_TYPE_NONE => ResourceType::None,
        LWM2MC_TYPE_STRING => ResourceType::String,
        LWM2MC_TYPE_INTEGER => ResourceType::Integer,
        LWM2MC_TYPE_UNSIGNED => ResourceType::UnsignedInteger,
        LWM2MC_TYPE_FLOAT => ResourceType::Float,
        LWM2MC_TYPE_BOOLEAN => ResourceType::Boolean,
        LWM2MC_TYPE_OPAQUE => ResourceType::Opaque,
        LWM2MC_TYPE_TIME => ResourceType::Time,
        LWM2MC_TYPE_OBJLNK => ResourceType::Objlnk,
        LWM2MC_TYPE_CORELNK => ResourceType::Corelnk,
        _ => return None,
    })
}

pub(crate) fn empty_value() -> lwm2mc_value {
    lwm2mc_value {
        r#type: LWM2MC_TYPE_NONE,
        integer: 0,
        unsigned_integer: 0,
        floating: 0.0,
        boolean: false,
        bytes: core::ptr::null(),
        len: 0,
        objlnk_object: 0,
        objlnk_instance: 0,
    }
}

/// A borrowed C view of a value; `bytes` points into `v`, so `v` must outlive its use.
pub(crate) fn to_c(v: &Value) -> lwm2mc_value {
    let mut out = empty_value();
    out.r#type = type_code(v.resource_type());
    match v {
        Value::String(s) | Value::Corelnk(s) => {
            out.bytes = s.as_ptr();
            out.len = s.len();
        }
        Value::Opaque(b) => {
            out.bytes = b.as_ptr();
            out.len = b.len();
        }
        Value::Integer(i) | Value::Time(i) => out.integer = *i,
        Value::Unsigned(u) => out.unsigned_integer = *u,
        Value::Float(f) => out.floating = *f,
        Value::Boolean(b) => out.boolean = *b,
        Value::Objlnk(o, i) => {
            out.objlnk_object = *o;
            out.objlnk_instance = *i;
        }
    }
    out
}

/// Copies a C value into a `Value`; `None` for an unknown type or invalid bytes.
///
/// # Safety
/// `v.bytes` must point to `v.len` readable bytes when the type carries bytes.
pub(crate) unsafe fn from_c(v: &lwm2mc_value) -> Option<Value> {
    // SAFETY: forwarded to the caller's contract.
    let bytes = || unsafe { super::guard::as_bytes(v.bytes, v.len) }.ok();
    Some(match type_from_code(v.r#type)? {
        ResourceType::String => Value::String(String::from_utf8(bytes()?.to_vec()).ok()?),
        ResourceType::Corelnk => Value::Corelnk(String::from_utf8(bytes()?.to_vec()).ok()?),
        ResourceType::Opaque => Value::Opaque(bytes()?.to_vec()),
        ResourceType::Integer => Value::Integer(v.integer),
        ResourceType::Time => Value::Time(v.integer),
        ResourceType::UnsignedInteger => Value::Unsigned(v.unsigned_integer),
        ResourceType::Float => Value::Float(v.floating),
        ResourceType::Boolean => Value::Boolean(v.boolean),
        ResourceType::Objlnk => Value::Objlnk(v.objlnk_object, v.objlnk_instance),
        ResourceType::None => return None,
    })
}

/// What a C callback returned, as a known code; `None` for a value that is no `lwm2mc_result`
/// (a C function may return anything: -1, 13, 99, ...).
pub(crate) fn known(v: lwm2mc_callback_result) -> Option<lwm2mc_result> {
    lwm2mc_result::from_u32(v)
}

/// A callback's return value for messages: the code's name, or the raw number.
pub(crate) fn describe_code(v: lwm2mc_callback_result) -> String {
    match known(v) {
        Some(r) => format!("{r:?}"),
        None => format!("unknown result {v} ({})", v as i32),
    }
}

/// `Ok` for LWM2MC_RESULT_OK, else the CoAP code a server receives when a C object callback
/// fails with `v`; unknown values are failures (5.00).
pub(crate) fn object_result(v: lwm2mc_callback_result) -> Result<(), ErrorCode> {
    match known(v) {
        Some(lwm2mc_result::Ok) => Ok(()),
        Some(lwm2mc_result::NotFound) => Err(ErrorCode::NotFound),
        Some(lwm2mc_result::InvalidArgument) => Err(ErrorCode::BadRequest),
        Some(lwm2mc_result::Unsupported) => Err(ErrorCode::MethodNotAllowed),
        _ => Err(ErrorCode::InternalServerError),
    }
}

/// Calls a C callback that lists IDs (`call(buf, cap, &mut n)`): first with room for 256; if
/// it says it has more (INSUFFICIENT_SIZE, or `n` over `cap`), once more with room for all of
/// them (IDs are below 65535, Core 1.1 §7.1), never cutting the list. Still short after that,
/// or an impossible count: 5.00, rather than make instances or resources vanish.
fn list_ids(
    mut call: impl FnMut(*mut u16, usize, &mut usize) -> lwm2mc_callback_result,
) -> Result<Vec<u16>, ErrorCode> {
    let mut cap = 256usize;
    loop {
        let mut ids = vec![0u16; cap];
        let mut n = 0usize;
        let r = call(ids.as_mut_ptr(), cap, &mut n);
        let short = known(r) == Some(lwm2mc_result::InsufficientSize) || n > cap;
        if !short {
            object_result(r)?;
            ids.truncate(n);
            return Ok(ids);
        }
        if cap != 256 || n <= cap || n > usize::from(u16::MAX) {
            return Err(ErrorCode::InternalServerError);
        }
        cap = n;
    }
}

/// A C storage table as a `Storage`.
pub(crate) struct CStorage(pub lwm2mc_storage);

// SAFETY: the table's userdata is only used inside a call on the client, and the client's gate
// lets one call run at a time; the C API documents that callbacks run on the calling thread.
unsafe impl Send for CStorage {}

fn key_cstring(key: &str) -> Result<CString, StorageError> {
    CString::new(key).map_err(|_| StorageError::InvalidKey(key.to_string()))
}

fn failed(what: &str, v: lwm2mc_callback_result) -> StorageError {
    StorageError::Io(format!(
        "storage {what} callback returned {}",
        describe_code(v)
    ))
}

/// The largest value a storage `load` may report: a snapshot is a few KiB; a callback asking
/// for more is broken, and the library does not allocate what it asks for.
const MAX_LOAD: usize = 16 * 1024 * 1024;

impl Storage for CStorage {
    fn load(&mut self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(load) = self.0.load else {
            return Ok(None);
        };
        let k = key_cstring(key)?;
        let mut buf = vec![0u8; 1024];
        // Grow once if the host says the value is larger (it reports the needed size).
        for _ in 0..3 {
            let mut n = 0usize;
            // SAFETY: buf has buf.len() writable bytes, k is NUL-terminated, n is writable.
            let r = unsafe {
                load(
                    self.0.userdata,
                    k.as_ptr(),
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut n,
                )
            };
            match known(r) {
                Some(lwm2mc_result::Ok) if n <= buf.len() => {
                    buf.truncate(n);
                    return Ok(Some(buf));
                }
                Some(lwm2mc_result::NotFound) => return Ok(None),
                Some(lwm2mc_result::InsufficientSize) if n > buf.len() && n <= MAX_LOAD => {
                    buf.resize(n, 0)
                }
                Some(lwm2mc_result::InsufficientSize) if buf.len() < MAX_LOAD => {
                    buf.resize(buf.len().saturating_mul(4).min(MAX_LOAD), 0)
                }
                _ => return Err(failed("load", r)),
            }
        }
        Err(StorageError::Io(
            "storage load callback kept asking for a larger buffer".into(),
        ))
    }

    fn store(&mut self, key: &str, data: &[u8]) -> Result<(), StorageError> {
        let Some(store) = self.0.store else {
            return Err(StorageError::Io("no store callback".into()));
        };
        let k = key_cstring(key)?;
        // SAFETY: data is readable for data.len() bytes, k is NUL-terminated.
        match unsafe { store(self.0.userdata, k.as_ptr(), data.as_ptr(), data.len()) } {
            r if known(r) == Some(lwm2mc_result::Ok) => Ok(()),
            other => Err(failed("store", other)),
        }
    }

    fn erase(&mut self, key: &str) -> Result<(), StorageError> {
        let Some(erase) = self.0.erase else {
            return Ok(());
        };
        let k = key_cstring(key)?;
        // SAFETY: k is NUL-terminated.
        let r = unsafe { erase(self.0.userdata, k.as_ptr()) };
        match known(r) {
            Some(lwm2mc_result::Ok | lwm2mc_result::NotFound) => Ok(()),
            _ => Err(failed("erase", r)),
        }
    }
}

/// A C object callback table as an `ObjectHandler`.
pub(crate) struct CObject {
    pub oid: u16,
    pub table: lwm2mc_object_callbacks,
}

// SAFETY: see CStorage.
unsafe impl Send for CObject {}

impl CObject {
    /// One transaction step; without the callback every step succeeds.
    fn step(&mut self, step: lwm2mc_transaction_step) -> Result<(), ErrorCode> {
        let Some(f) = self.table.transaction else {
            return Ok(());
        };
        // SAFETY: plain values.
        object_result(unsafe { f(self.table.userdata, self.oid, step as u32) })
    }
}

impl ObjectHandler for CObject {
    fn instances(&mut self) -> Result<Vec<u16>, ErrorCode> {
        let Some(f) = self.table.instances else {
            return Ok(vec![0]);
        };
        let mut ids = list_ids(|buf, cap, n| {
            // SAFETY: `buf` has `cap` writable entries; `n` is writable.
            unsafe { f(self.table.userdata, self.oid, buf, cap, n) }
        })?;
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    fn resources(
        &mut self,
        iid: u16,
    ) -> Result<Option<crate::object::PresentResources>, ErrorCode> {
        let Some(f) = self.table.resources else {
            return Ok(None);
        };
        let mut declined = false;
        let listed = list_ids(|buf, cap, n| {
            // SAFETY: `buf` has `cap` writable entries; `n` is writable.
            let r = unsafe { f(self.table.userdata, self.oid, iid, buf, cap, n) };
            if known(r) == Some(lwm2mc_result::Unsupported) {
                // The application does not list this instance: read to find out, as with no
                // callback at all (not a 4.05 to the server).
                declined = true;
                return lwm2mc_result::Ok as u32;
            }
            r
        });
        if declined {
            return Ok(None);
        }
        let mut ids = listed?;
        ids.sort_unstable();
        ids.dedup();
        // C objects hold single resources only: no `dim`.
        Ok(Some(ids.into_iter().map(|rid| (rid, None)).collect()))
    }

    fn read(&mut self, iid: u16, rid: u16) -> Result<ResourceValue, ErrorCode> {
        let Some(f) = self.table.read else {
            return Err(ErrorCode::NotFound);
        };
        let mut out = empty_value();
        // SAFETY: out is a valid, writable lwm2mc_value.
        object_result(unsafe { f(self.table.userdata, self.oid, iid, rid, &mut out) })?;
        // SAFETY: the callback promises out.bytes stays valid until it is called again.
        unsafe { from_c(&out) }
            .map(ResourceValue::Single)
            .ok_or(ErrorCode::InternalServerError)
    }

    fn write(&mut self, iid: u16, rid: u16, value: &ResourceValue) -> Result<(), ErrorCode> {
        let Some(f) = self.table.write else {
            return Err(ErrorCode::MethodNotAllowed);
        };
        let ResourceValue::Single(v) = value else {
            return Err(ErrorCode::MethodNotAllowed);
        };
        let c = to_c(v);
        // SAFETY: c borrows from v, which outlives the call.
        object_result(unsafe { f(self.table.userdata, self.oid, iid, rid, &c) })
    }

    fn create(&mut self, iid: u16, resources: &crate::value::Resources) -> Result<(), ErrorCode> {
        let Some(f) = self.table.create_instance else {
            return Err(ErrorCode::MethodNotAllowed);
        };
        // SAFETY: plain values.
        object_result(unsafe { f(self.table.userdata, self.oid, iid) })?;
        for (rid, value) in resources {
            if let ResourceValue::Single(_) = value {
                self.write(iid, *rid, value)?;
            }
        }
        Ok(())
    }

    fn delete(&mut self, iid: u16) -> Result<(), ErrorCode> {
        let Some(f) = self.table.delete_instance else {
            return Err(ErrorCode::MethodNotAllowed);
        };
        // SAFETY: plain values.
        object_result(unsafe { f(self.table.userdata, self.oid, iid) })
    }

    fn begin(&mut self) -> Result<(), ErrorCode> {
        self.step(lwm2mc_transaction_step::Begin)
    }

    fn validate(&mut self) -> Result<(), ErrorCode> {
        self.step(lwm2mc_transaction_step::Validate)
    }

    fn commit(&mut self) {
        let _ = self.step(lwm2mc_transaction_step::Commit);
    }

    fn rollback(&mut self) {
        let _ = self.step(lwm2mc_transaction_step::Rollback);
    }

    fn execute(&mut self, iid: u16, rid: u16, args: &[u8]) -> Result<(), ErrorCode> {
        let Some(f) = self.table.execute else {
            return Err(ErrorCode::MethodNotAllowed);
        };
        // SAFETY: args is readable for args.len() bytes during the call.
        object_result(unsafe {
            f(
                self.table.userdata,
                self.oid,
                iid,
                rid,
                args.as_ptr(),
                args.len(),
            )
        })
    }
}
