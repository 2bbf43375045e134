//! `lwm2mc_config`: everything a client is made from (endpoint, factory accounts, Device
//! values, application objects, hooks). A config is borrowed by `lwm2mc_client_new`, which
//! copies it, so one config can make several clients.

#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_void};
use std::borrow::Cow;
use std::path::PathBuf;

use super::adapters::type_from_code;
use super::guard::{as_mut, as_str, guard, write_out, FfiResult};
use super::result::lwm2mc_result;
use super::types::*;
use crate::accounts::{self, factory};
use crate::codec::ContentFormat;
use crate::config::{Config, RootFormats, Version};
use crate::model::{ObjectDef, Operations, ResourceDef};
use crate::path::Path;
use crate::store::{Store, StoreError};
use crate::value::Value;

/// Where a client keeps its configuration.
#[derive(Clone)]
pub(crate) enum StorageChoice {
    Hook(lwm2mc_storage),
    Directory(PathBuf),
}

/// The log hook and its userdata.
#[derive(Clone, Copy)]
pub(crate) struct LogHook {
    pub userdata: *mut c_void,
    pub log: unsafe extern "C" fn(*mut c_void, u32, *const c_char),
}

/// A client configuration under construction (opaque to C).
#[derive(Clone)]
pub struct lwm2mc_config {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) transport: Option<lwm2mc_transport>,
    pub(crate) storage: Option<StorageChoice>,
    pub(crate) log: Option<LogHook>,
    pub(crate) objects: Vec<(u16, lwm2mc_object_callbacks)>,
    /// Firmware update callbacks (`lwm2mc_config_set_firmware`).
    pub(crate) firmware: Option<super::firmware::lwm2mc_firmware_callbacks>,
}

pub(crate) fn store_error(e: StoreError) -> lwm2mc_result {
    match e {
        StoreError::NotFound(_) | StoreError::UnknownObject(_) => lwm2mc_result::NotFound,
        StoreError::AlreadyExists(_) => lwm2mc_result::AlreadyExists,
        StoreError::SingleInstance(_) => lwm2mc_result::InvalidState,
        StoreError::WrongType(_) | StoreError::BadPath(_) => lwm2mc_result::InvalidArgument,
    }
}

/// Creates a configuration for endpoint name `endpoint` (LwM2M 1.1, standard objects, no
/// accounts yet). On success `*out` owns it: release it with `lwm2mc_config_free`.
///
/// # Safety
/// `endpoint` must be a NUL-terminated string; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_new(
    endpoint: *const c_char,
    out: *mut *mut lwm2mc_config,
) -> lwm2mc_result {
    guard(|| {
        // SAFETY: per this function's contract.
        let ep = unsafe { as_str(endpoint) }?;
        if ep.is_empty() || out.is_null() {
            return Err(if out.is_null() {
                lwm2mc_result::NullParameter
            } else {
                lwm2mc_result::InvalidArgument
            });
        }
        let mut config = Config::new(ep);
        config.seed = crate::transport::udp::os_seed();
        let cfg = lwm2mc_config {
            config,
            store: Store::with_standard_objects(),
            transport: None,
            storage: None,
            log: None,
            objects: Vec::new(),
            firmware: None,
        };
        // SAFETY: out checked non-NULL.
        unsafe { write_out(out, Box::into_raw(Box::new(cfg))) }
    })
}

/// Releases a configuration. NULL is a no-op.
///
/// # Safety
/// `config` must be NULL or a pointer from `lwm2mc_config_new` not freed before.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_free(config: *mut lwm2mc_config) {
    let _ = guard(|| {
        if !config.is_null() {
            // SAFETY: created by Box::into_raw in lwm2mc_config_new, freed once.
            drop(unsafe { Box::from_raw(config) });
        }
        Ok(())
    });
}

/// Runs `f` on a config pointer.
pub(crate) fn with_config(
    config: *mut lwm2mc_config,
    f: impl FnOnce(&mut lwm2mc_config) -> FfiResult,
) -> lwm2mc_result {
    guard(|| {
        // SAFETY: the exported functions document that config is NULL or valid and unaliased.
        let c = unsafe { as_mut(config) }?;
        f(c)
    })
}

/// Announces LwM2M 1.`minor` (0 or 1; default 1).
///
/// # Safety
/// `config` must be NULL or a valid config.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_lwm2m_version(
    config: *mut lwm2mc_config,
    minor: u32,
) -> lwm2mc_result {
    with_config(config, |c| {
        c.config.version = match minor {
            0 => Version::V1_0,
            1 => Version::V1_1,
            _ => return Err(lwm2mc_result::InvalidArgument),
        };
        Ok(())
    })
}

/// Sets the preferred bootstrap Content-Format sent as `pct=` (110, 112 or 11542; 0 = none).
///
/// # Safety
/// `config` must be NULL or a valid config.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_preferred_format(
    config: *mut lwm2mc_config,
    content_format: u16,
) -> lwm2mc_result {
    with_config(config, |c| {
        c.config.preferred_format = match (content_format, ContentFormat::from_code(content_format))
        {
            (0, _) => None,
            (
                _,
                Some(
                    f @ (ContentFormat::SenmlJson | ContentFormat::SenmlCbor | ContentFormat::Tlv),
                ),
            ) => Some(f),
            _ => return Err(lwm2mc_result::InvalidArgument),
        };
        Ok(())
    })
}

/// Chooses what the root link of Register and Update announces as `ct=`: one of
/// `lwm2mc_root_formats` (default LWM2MC_ROOT_FORMATS_PREFERRED: one SenML value, which every
/// server tried accepts). Any other value is LWM2MC_RESULT_INVALID_ARGUMENT.
///
/// # Safety
/// `config` must be NULL or a valid config.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_root_formats(
    config: *mut lwm2mc_config,
    formats: u32,
) -> lwm2mc_result {
    with_config(config, |c| {
        c.config.root_formats = match formats {
            f if f == lwm2mc_root_formats::Preferred as u32 => RootFormats::Preferred,
            f if f == lwm2mc_root_formats::All as u32 => RootFormats::All,
            f if f == lwm2mc_root_formats::Omit as u32 => RootFormats::Omit,
            _ => return Err(lwm2mc_result::InvalidArgument),
        };
        Ok(())
    })
}

/// Sets one of the bounds on what a server can make the client hold (`lwm2mc_limit`):
/// largest request payload accepted (default 4096; larger gets 4.13), largest response
/// payload sent (default 1024; larger becomes 5.00), instances per object (default 32),
/// events queued for the application (default 64; the oldest are dropped and an
/// LWM2MC_EVENT_KIND_EVENTS_DROPPED event says how many). `value` must be at least 1; an
/// unknown `limit` or a 0 is LWM2MC_RESULT_INVALID_ARGUMENT and changes nothing.
///
/// # Safety
/// `config` must be NULL or a valid config.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_limit(
    config: *mut lwm2mc_config,
    limit: u32,
    value: usize,
) -> lwm2mc_result {
    with_config(config, |c| {
        if value == 0 {
            return Err(lwm2mc_result::InvalidArgument);
        }
        let limits = &mut c.config.limits;
        let slot = match limit {
            l if l == lwm2mc_limit::MaxRequestPayload as u32 => &mut limits.max_request_payload,
            l if l == lwm2mc_limit::MaxResponsePayload as u32 => &mut limits.max_response_payload,
            l if l == lwm2mc_limit::MaxInstances as u32 => &mut limits.max_instances,
            l if l == lwm2mc_limit::MaxQueuedEvents as u32 => &mut limits.max_queued_events,
            l if l == lwm2mc_limit::MaxObservations as u32 => &mut limits.max_observations,
            l if l == lwm2mc_limit::MaxAttributeLevels as u32 => &mut limits.max_attribute_levels,
            l if l == lwm2mc_limit::MaxStoredNotifications as u32 => {
                &mut limits.max_stored_notifications
            }
            _ => return Err(lwm2mc_result::InvalidArgument),
        };
        *slot = value;
        Ok(())
    })
}

/// Answers longer than `bytes` go out in Block2 blocks of that size, and so do the bodies of
/// the client's own requests (Register, Update, Send) in Block1 blocks (RFC 7959; rounded down
/// to a power of two, 16 to 1024; 1024 by default). 0 sends everything whole, in one datagram.
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_block_size(
    config: *mut lwm2mc_config,
    bytes: usize,
) -> lwm2mc_result {
    with_config(config, |c| {
        if bytes != 0 && bytes < 16 {
            return Err(lwm2mc_result::InvalidArgument);
        }
        c.config.block_size = (bytes != 0).then_some(bytes);
        Ok(())
    })
}

/// Sets CoAP's ACK_TIMEOUT in milliseconds (default 2000, RFC 7252 §4.8).
///
/// # Safety
/// `config` must be NULL or a valid config.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_ack_timeout_ms(
    config: *mut lwm2mc_config,
    ms: u32,
) -> lwm2mc_result {
    with_config(config, |c| {
        if ms == 0 {
            return Err(lwm2mc_result::InvalidArgument);
        }
        c.config.transmission.ack_timeout_ms = u64::from(ms);
        Ok(())
    })
}

/// Sets the seed for tokens and jitter (default: from the OS). For reproducible tests.
///
/// # Safety
/// `config` must be NULL or a valid config.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_seed(
    config: *mut lwm2mc_config,
    seed: u64,
) -> lwm2mc_result {
    with_config(config, |c| {
        c.config.seed = seed;
        Ok(())
    })
}

/// Factory state: adds a NoSec Bootstrap-Server account at `uri` with a ClientHoldOffTime.
/// A device has at most one: a second one is LWM2MC_RESULT_ALREADY_EXISTS. A refused call
/// leaves the config unchanged.
///
/// # Safety
/// `config` must be NULL or a valid config; `uri` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_add_bootstrap_server(
    config: *mut lwm2mc_config,
    uri: *const c_char,
    hold_off_s: u32,
) -> lwm2mc_result {
    with_config(config, |c| {
        // SAFETY: per this function's contract.
        let uri = unsafe { as_str(uri) }?;
        crate::uri::ServerUri::parse(uri).map_err(|_| lwm2mc_result::InvalidArgument)?;
        if accounts::bootstrap_account(&c.store).is_some() {
            return Err(lwm2mc_result::AlreadyExists);
        }
        with_rollback(&mut c.store, |store| {
            factory::add_bootstrap_account(store, uri, i64::from(hold_off_s)).map(|_| ())
        })
    })
}

/// Factory state: adds a NoSec LwM2M Server account (Security + Server instances) with Short
/// Server ID `short_server_id` (1..65534; else INVALID_ARGUMENT). An ID that an account of
/// the config has already is LWM2MC_RESULT_ALREADY_EXISTS. A refused call leaves the config
/// unchanged.
///
/// # Safety
/// `config` must be NULL or a valid config; `uri` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_add_server(
    config: *mut lwm2mc_config,
    short_server_id: u16,
    uri: *const c_char,
    lifetime_s: u32,
) -> lwm2mc_result {
    with_config(config, |c| {
        // SAFETY: per this function's contract.
        let uri = unsafe { as_str(uri) }?;
        crate::uri::ServerUri::parse(uri).map_err(|_| lwm2mc_result::InvalidArgument)?;
        if !(1..=65534).contains(&short_server_id) {
            return Err(lwm2mc_result::InvalidArgument);
        }
        let taken = accounts::security_accounts(&c.store)
            .iter()
            .any(|a| !a.bootstrap && a.ssid == Some(short_server_id))
            || accounts::server_instance_of(&c.store, short_server_id).is_some();
        if taken {
            return Err(lwm2mc_result::AlreadyExists);
        }
        with_rollback(&mut c.store, |store| {
            factory::add_server_account(store, short_server_id, uri, i64::from(lifetime_s))
        })
    })
}

/// Runs a change of the factory store that may fail half-way; on failure the store is put
/// back as it was.
fn with_rollback(
    store: &mut Store,
    change: impl FnOnce(&mut Store) -> Result<(), StoreError>,
) -> FfiResult {
    let before = store.clone();
    change(store).map_err(|e| {
        *store = before;
        store_error(e)
    })
}

/// Sets the Device object's manufacturer, model and serial number (and its mandatory
/// resources). Other Device values: `lwm2mc_client_set_*` on `/3/0/...`.
///
/// # Safety
/// `config` must be NULL or a valid config; the strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_device(
    config: *mut lwm2mc_config,
    manufacturer: *const c_char,
    model: *const c_char,
    serial: *const c_char,
) -> lwm2mc_result {
    with_config(config, |c| {
        // SAFETY: per this function's contract.
        let (ma, mo, se) = unsafe { (as_str(manufacturer)?, as_str(model)?, as_str(serial)?) };
        factory::add_device(&mut c.store, ma, mo, se).map_err(store_error)
    })
}

/// Uses the host's transport (copied). Without one, call `lwm2mc_client_bind_udp`. `transport`
/// NULL is LWM2MC_RESULT_NULL_PARAMETER; a table without `open` or `send` is
/// LWM2MC_RESULT_INVALID_ARGUMENT; both change nothing.
///
/// # Safety
/// `config` must be NULL or a valid config; `transport` NULL or valid for reads.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_transport(
    config: *mut lwm2mc_config,
    transport: *const lwm2mc_transport,
) -> lwm2mc_result {
    with_config(config, |c| {
        // SAFETY: per this function's contract.
        let t = unsafe { super::guard::as_ref(transport) }?;
        if t.open.is_none() || t.send.is_none() {
            return Err(lwm2mc_result::InvalidArgument);
        }
        c.transport = Some(*t);
        Ok(())
    })
}

/// Keeps the configuration in the host's storage (copied): loaded by `lwm2mc_client_new`,
/// saved on every commit. `storage` NULL means no storage again (this replaces an earlier
/// `lwm2mc_config_set_storage` or `lwm2mc_config_use_file_storage`). A table without `load`
/// or `store` is LWM2MC_RESULT_INVALID_ARGUMENT and changes nothing.
///
/// # Safety
/// `config` must be NULL or a valid config; `storage` NULL or valid for reads.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_storage(
    config: *mut lwm2mc_config,
    storage: *const lwm2mc_storage,
) -> lwm2mc_result {
    with_config(config, |c| {
        // SAFETY: per this function's contract.
        let Some(s) = (unsafe { storage.as_ref() }) else {
            c.storage = None;
            return Ok(());
        };
        if s.load.is_none() || s.store.is_none() {
            return Err(lwm2mc_result::InvalidArgument);
        }
        c.storage = Some(StorageChoice::Hook(*s));
        Ok(())
    })
}

/// Keeps the configuration in files under directory `dir` (created if missing; written
/// crash-safely: new file, fsync, rename, fsync directory).
///
/// # Safety
/// `config` must be NULL or a valid config; `dir` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_use_file_storage(
    config: *mut lwm2mc_config,
    dir: *const c_char,
) -> lwm2mc_result {
    with_config(config, |c| {
        // SAFETY: per this function's contract.
        let d = unsafe { as_str(dir) }?;
        if d.is_empty() {
            return Err(lwm2mc_result::InvalidArgument);
        }
        c.storage = Some(StorageChoice::Directory(PathBuf::from(d)));
        Ok(())
    })
}

/// Sets the log hook (NULL `log` removes it). Lines: state changes at INFO, datagrams at DEBUG.
///
/// # Safety
/// `config` must be NULL or a valid config.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_log(
    config: *mut lwm2mc_config,
    userdata: *mut c_void,
    log: lwm2mc_log_cb,
) -> lwm2mc_result {
    with_config(config, |c| {
        c.log = log.map(|log| LogHook { userdata, log });
        Ok(())
    })
}

/// Defines an application object: `resources` (copied) describe its resources. With
/// `callbacks` (copied) the application holds the values; with NULL the library does and the
/// application sets them with `lwm2mc_client_set_*`. `version` ("1.0") may be NULL.
///
/// # Safety
/// `config` must be NULL or a valid config; `resources` must point to `n_resources` entries;
/// `version` NULL or NUL-terminated; `callbacks` NULL or valid for reads.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_add_object(
    config: *mut lwm2mc_config,
    object_id: u16,
    version: *const c_char,
    multiple: bool,
    resources: *const lwm2mc_resource_def,
    n_resources: usize,
    callbacks: *const lwm2mc_object_callbacks,
) -> lwm2mc_result {
    with_config(config, |c| {
        if object_id <= crate::model::oid::DEVICE || object_id == crate::path::MAX_ID {
            return Err(lwm2mc_result::InvalidArgument);
        }
        if c.store.def(object_id).is_some() {
            return Err(lwm2mc_result::AlreadyExists);
        }
        let version = if version.is_null() {
            "1.0".to_string()
        } else {
            // SAFETY: per this function's contract.
            unsafe { as_str(version) }?.to_string()
        };
        if n_resources > 0 && resources.is_null() {
            return Err(lwm2mc_result::NullParameter);
        }
        let list: &[lwm2mc_resource_def] = if n_resources == 0 {
            &[]
        } else {
            // SAFETY: non-NULL with n_resources entries per the contract.
            unsafe { core::slice::from_raw_parts(resources, n_resources) }
        };
        let mut defs = Vec::with_capacity(list.len());
        for r in list {
            let kind = type_from_code(r.r#type).ok_or(lwm2mc_result::InvalidArgument)?;
            if r.id == crate::path::MAX_ID || defs.iter().any(|d: &ResourceDef| d.id == r.id) {
                return Err(lwm2mc_result::InvalidArgument);
            }
            let ops = Operations::from_bits(r.operations).ok_or(lwm2mc_result::InvalidArgument)?;
            defs.push(ResourceDef {
                id: r.id,
                name: Cow::Owned(format!("Resource {}", r.id)),
                kind,
                operations: ops,
                multiple: r.multiple,
                mandatory: r.mandatory,
            });
        }
        defs.sort_by_key(|d| d.id);
        let def = ObjectDef {
            id: object_id,
            name: Cow::Owned(format!("Object {object_id}")),
            version: Cow::Owned(version),
            multiple,
            mandatory: false,
            resources: Cow::Owned(defs),
        };
        if !callbacks.is_null() {
            // SAFETY: non-NULL and readable per the contract.
            let cb = unsafe { *callbacks };
            c.objects.push((object_id, cb));
        }
        c.store.define(def, false);
        Ok(())
    })
}

/// Sets a value in the factory configuration (before the client exists), e.g. a Device
/// resource: `path` like "/3/0/9"; see `lwm2mc_client_set_value` for the rules.
///
/// # Safety
/// `config` must be NULL or a valid config; `path` NUL-terminated; `value` valid for reads
/// (its bytes for `value->len` bytes).
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_value(
    config: *mut lwm2mc_config,
    path: *const c_char,
    value: *const lwm2mc_value,
) -> lwm2mc_result {
    with_config(config, |c| {
        // SAFETY: per this function's contract.
        let (p, v) = unsafe { (parse_path(path)?, read_value(value)?) };
        c.store.set(&p, v).map_err(store_error)
    })
}

/// A path from a C string.
///
/// # Safety
/// `path` must be NULL or NUL-terminated.
pub(crate) unsafe fn parse_path(path: *const c_char) -> FfiResult<Path> {
    // SAFETY: forwarded.
    unsafe { as_str(path) }?
        .parse()
        .map_err(|_| lwm2mc_result::InvalidArgument)
}

/// A value from a C `lwm2mc_value`.
///
/// # Safety
/// `value` must be NULL or valid, with `bytes` readable for `len` bytes.
pub(crate) unsafe fn read_value(value: *const lwm2mc_value) -> FfiResult<Value> {
    // SAFETY: forwarded.
    let v = unsafe { super::guard::as_ref(value) }?;
    // SAFETY: forwarded.
    unsafe { super::adapters::from_c(v) }.ok_or(lwm2mc_result::InvalidArgument)
}
