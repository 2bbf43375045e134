//! Values by path: `lwm2mc_client_set_*` and `lwm2mc_client_get_*` on the library-held store.

#![allow(non_camel_case_types)]

use core::ffi::c_char;

use super::adapters::{to_c, type_code};
use super::client::{lwm2mc_client, with_client};
use super::config::{parse_path, read_value, store_error};
use super::guard::{as_str, copy_out, write_out};
use super::result::lwm2mc_result;
use super::types::*;
use crate::value::Value;

/// Sets the value at `path` ("/3/0/9", "/3303/0/5700", "/3/0/7/1" for a resource instance):
/// creates the instance if needed; the type must be the resource's. For objects whose values
/// the application holds through callbacks, the callbacks win. Changes to Security/Server
/// are factory provisioning: saved with `lwm2mc_client_save`.
///
/// # Safety
/// `client` must be NULL or a live client; `path` NUL-terminated; `value` valid for reads with
/// `bytes` readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_set_value(
    client: *mut lwm2mc_client,
    path: *const c_char,
    value: *const lwm2mc_value,
) -> lwm2mc_result {
    with_client(client, |c| {
        // SAFETY: per this function's contract.
        let (p, v) = unsafe { (parse_path(path)?, read_value(value)?) };
        c.core()?.store_mut().set(&p, v).map_err(store_error)
    })
}

fn set_typed(client: *mut lwm2mc_client, path: *const c_char, v: Value) -> lwm2mc_result {
    with_client(client, |c| {
        // SAFETY: the exported wrappers document that path is NULL or NUL-terminated.
        let p = unsafe { parse_path(path) }?;
        c.core()?.store_mut().set(&p, v).map_err(store_error)
    })
}

/// Sets an Integer resource. See `lwm2mc_client_set_value`.
///
/// # Safety
/// `client` must be NULL or a live client; `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_set_int(
    client: *mut lwm2mc_client,
    path: *const c_char,
    value: i64,
) -> lwm2mc_result {
    set_typed(client, path, Value::Integer(value))
}

/// Sets a Float resource. See `lwm2mc_client_set_value`.
///
/// # Safety
/// `client` must be NULL or a live client; `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_set_float(
    client: *mut lwm2mc_client,
    path: *const c_char,
    value: f64,
) -> lwm2mc_result {
    set_typed(client, path, Value::Float(value))
}

/// Sets a Boolean resource. See `lwm2mc_client_set_value`.
///
/// # Safety
/// `client` must be NULL or a live client; `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_set_bool(
    client: *mut lwm2mc_client,
    path: *const c_char,
    value: bool,
) -> lwm2mc_result {
    set_typed(client, path, Value::Boolean(value))
}

/// Sets a Time resource (Unix seconds). See `lwm2mc_client_set_value`.
///
/// # Safety
/// `client` must be NULL or a live client; `path` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_set_time(
    client: *mut lwm2mc_client,
    path: *const c_char,
    value: i64,
) -> lwm2mc_result {
    set_typed(client, path, Value::Time(value))
}

/// Sets a String resource from a NUL-terminated UTF-8 string. See `lwm2mc_client_set_value`.
///
/// # Safety
/// `client` must be NULL or a live client; `path` and `value` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_set_string(
    client: *mut lwm2mc_client,
    path: *const c_char,
    value: *const c_char,
) -> lwm2mc_result {
    // SAFETY: per this function's contract.
    match unsafe { as_str(value) } {
        Ok(s) => set_typed(client, path, Value::String(s.to_string())),
        Err(r) => r,
    }
}

/// Reads the value at `path` into `*out`. For STRING, CORELNK and OPAQUE, `out->bytes` points
/// into the client and stays valid until the next call on this client.
///
/// # Safety
/// `client` must be NULL or a live client; `path` NUL-terminated; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_get_value(
    client: *const lwm2mc_client,
    path: *const c_char,
    out: *mut lwm2mc_value,
) -> lwm2mc_result {
    with_client(client.cast_mut(), |c| {
        // SAFETY: per this function's contract.
        let p = unsafe { parse_path(path) }?;
        if out.is_null() {
            return Err(lwm2mc_result::NullParameter);
        }
        let v = c
            .core_ref()?
            .store()
            .value(&p)
            .cloned()
            .ok_or(lwm2mc_result::NotFound)?;
        // Keep the bytes alive in the client until the next call.
        c.held_data = match &v {
            Value::String(s) | Value::Corelnk(s) => s.as_bytes().to_vec(),
            Value::Opaque(b) => b.clone(),
            _ => Vec::new(),
        };
        let mut cv = to_c(&v);
        if matches!(v, Value::String(_) | Value::Corelnk(_) | Value::Opaque(_)) {
            cv.bytes = c.held_data.as_ptr();
            cv.len = c.held_data.len();
        }
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, cv) }
    })
}

/// Copies the String value at `path` into `buf` (`cap` bytes) with a terminating NUL, and its
/// length (without the NUL) into `out_len`. When `cap` has no room for the string and its NUL,
/// nothing is copied: LWM2MC_RESULT_INSUFFICIENT_SIZE, and `out_len` receives the size
/// needed, NUL included. `buf` is therefore always NUL-terminated after success.
///
/// # Safety
/// `client` must be NULL or a live client; `path` NUL-terminated; `buf` writable for `cap`
/// bytes; `out_len` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_get_string(
    client: *const lwm2mc_client,
    path: *const c_char,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> lwm2mc_result {
    with_client(client.cast_mut(), |c| {
        // SAFETY: per this function's contract.
        let p = unsafe { parse_path(path) }?;
        if out_len.is_null() || (buf.is_null() && cap > 0) {
            return Err(lwm2mc_result::NullParameter);
        }
        let v = c
            .core_ref()?
            .store()
            .value(&p)
            .ok_or(lwm2mc_result::NotFound)?;
        let s = v.as_str().ok_or(lwm2mc_result::InvalidArgument)?;
        let mut with_nul = Vec::with_capacity(s.len() + 1);
        with_nul.extend_from_slice(s.as_bytes());
        with_nul.push(0);
        // SAFETY: per this function's contract; on success out_len then holds the length
        // with the NUL, which the string's own length replaces.
        unsafe { copy_out(&with_nul, buf.cast(), cap, out_len) }?;
        // SAFETY: out_len was checked non-NULL by copy_out.
        unsafe { out_len.write(s.len()) };
        Ok(())
    })
}

/// Writes the type (`LWM2MC_TYPE_*`) that the object definition gives the resource at `path`
/// ("/3/0/9", or "/3/0/7/1" for an instance of a multiple resource), so a binding can pass a
/// value of the right type instead of guessing. NOT_FOUND for an object or resource the
/// client does not define; INVALID_ARGUMENT for a path that names no resource.
///
/// # Safety
/// `client` must be NULL or a live client; `path` NUL-terminated; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_resource_type(
    client: *const lwm2mc_client,
    path: *const c_char,
    out: *mut u32,
) -> lwm2mc_result {
    with_client(client.cast_mut(), |c| {
        // SAFETY: per this function's contract.
        let p = unsafe { parse_path(path) }?;
        let (Some(o), Some(r)) = (p.object_id(), p.resource_id()) else {
            return Err(lwm2mc_result::InvalidArgument);
        };
        let kind = c
            .core_ref()?
            .store()
            .def(o)
            .and_then(|d| d.resource(r))
            .map(|rd| rd.kind)
            .ok_or(lwm2mc_result::NotFound)?;
        // SAFETY: per this function's contract.
        unsafe { write_out(out, type_code(kind)) }
    })
}
