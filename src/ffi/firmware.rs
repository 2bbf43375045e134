//! Firmware update from C: the host's callbacks receive the package a server pushes to
//! `/5/0/0` or the library pulls from a `coap://` Package URI, check it and install it;
//! the host may download other schemes itself and defer an update to its user. The library
//! runs object 5's state machine.

#![allow(non_camel_case_types)]

use alloc::vec::Vec;
use core::ffi::{c_char, c_void};

use super::client::{lwm2mc_client, with_client};
use super::config::{lwm2mc_config, with_config};
use super::guard::as_ref;
use super::result::lwm2mc_result;
use super::types::lwm2mc_callback_result;
use crate::client::FirmwareError;
use crate::object::{
    Applied, DownloadFailure, DownloadProtocol, FirmwareInstaller, InstallFailure,
};

/// What `lwm2mc_firmware_callbacks.apply` returns besides an Update Result failure code.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lwm2mc_firmware_apply {
    /// Installed; the new firmware runs now (Update Result 1).
    Done = 0,
    /// The device restarts to finish installing: the library keeps State Updating in its
    /// storage and calls `outcome` after the restart.
    Restarting = 256,
}

/// Callbacks through which the host stores, checks and installs a firmware package (Firmware
/// Update object 5, push delivery). Each returns 0 for success or an Update Result code
/// (`/5/0/5`, Core 1.1 §E.6): from `open`, `write` and `verify` 2 (not enough flash), 3 (out
/// of RAM), 5 (integrity check failure) or 6 (unsupported package type); from `apply` 8
/// (installation failed, the package is kept: Update may be executed again) or 5 (the
/// package is corrupt). Any other value is taken as 5 from `verify`, 2 from `open` and
/// `write`, and from `apply` as 8 with the package gone. They run inside the client call that
/// handles the server's request.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lwm2mc_firmware_callbacks {
    /// Passed back as the first argument of every callback.
    pub userdata: *mut c_void,
    /// A package starts arriving: `size` bytes if `size_known`.
    pub open: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            size: u64,
            size_known: bool,
        ) -> lwm2mc_callback_result,
    >,
    /// `len` bytes at `chunk` belong at `offset` of the package; chunks come in order.
    pub write: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            offset: u64,
            chunk: *const u8,
            len: usize,
        ) -> lwm2mc_callback_result,
    >,
    /// The whole package arrived: check it.
    pub verify: Option<unsafe extern "C" fn(userdata: *mut c_void) -> lwm2mc_callback_result>,
    /// Install it; return LWM2MC_FIRMWARE_APPLY_DONE (0) once the new firmware runs, or
    /// LWM2MC_FIRMWARE_APPLY_RESTARTING when the device restarts to finish (the outcome is
    /// then asked through `outcome`).
    pub apply: Option<unsafe extern "C" fn(userdata: *mut c_void) -> lwm2mc_callback_result>,
    /// Throw away what was received.
    pub discard: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
    /// After a restart during an installation: 0 if the new firmware runs, else 8 or 5.
    /// NULL counts as success. Needs a storage (`lwm2mc_config_set_storage` or
    /// `lwm2mc_config_use_file_storage`), where the library keeps the state across the restart.
    pub outcome: Option<unsafe extern "C" fn(userdata: *mut c_void) -> lwm2mc_callback_result>,
    /// The protocols the host downloads packages with itself, bit N for Firmware Update
    /// Protocol Support value N (`/5/0/8`): 1 << 1 CoAPS, 1 << 2 HTTP, 1 << 3 HTTPS, 1 << 4
    /// CoAP over TCP, 1 << 5 CoAP over TLS. 0: none (the library pulls `coap://` itself in
    /// any case). Other bits are ignored.
    pub download_protocols: u32,
    /// A server wrote a Package URI (NUL-terminated, valid during the call) of one of
    /// `download_protocols`: start downloading it into the package storage and report the
    /// end with `lwm2mc_client_firmware_downloaded`. 0 when started, else an Update Result
    /// (2, 3, 4, 7 or 9); NULL refuses with 9.
    pub download: Option<
        unsafe extern "C" fn(userdata: *mut c_void, uri: *const c_char) -> lwm2mc_callback_result,
    >,
    /// A server executed Update: true to ask the user first (Update Result 11 and an event
    /// FIRMWARE_UPDATE_AWAITING_USER; `lwm2mc_client_firmware_accept_update` installs it).
    /// NULL: install at once.
    pub defer_update: Option<unsafe extern "C" fn(userdata: *mut c_void) -> bool>,
}

// SAFETY: the table is only called from inside a client call, on the thread holding the
// client's gate (the C contract of every callback).
unsafe impl Send for lwm2mc_firmware_callbacks {}

/// Enables firmware update by push: object 5 is offered, and `callbacks` (copied; NULL
/// members answer success, except `apply`, whose absence refuses to install with 8).
///
/// # Safety
/// `config` must be NULL or a live config; `callbacks` NULL or valid for a read.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_firmware(
    config: *mut lwm2mc_config,
    callbacks: *const lwm2mc_firmware_callbacks,
) -> lwm2mc_result {
    with_config(config, |c| {
        // SAFETY: per this function's contract.
        let table = unsafe { as_ref(callbacks) }?;
        c.firmware = Some(*table);
        Ok(())
    })
}

/// The C table as a `FirmwareInstaller`.
pub(crate) struct CFirmware {
    table: lwm2mc_firmware_callbacks,
    /// `download_protocols` decoded.
    protocols: Vec<DownloadProtocol>,
}

impl CFirmware {
    pub(crate) fn new(table: lwm2mc_firmware_callbacks) -> CFirmware {
        let all = [
            (1, DownloadProtocol::Coaps),
            (2, DownloadProtocol::Http),
            (3, DownloadProtocol::Https),
            (4, DownloadProtocol::CoapTcp),
            (5, DownloadProtocol::CoapsTcp),
        ];
        let protocols = all
            .into_iter()
            .filter(|(bit, _)| table.download_protocols & (1 << bit) != 0)
            .map(|(_, p)| p)
            .collect();
        CFirmware { table, protocols }
    }
}

/// Update Result codes the host may give for a failed download of its own.
fn own_download(code: lwm2mc_callback_result) -> Result<(), DownloadFailure> {
    match code {
        4 => Err(DownloadFailure::ConnectionLost),
        7 => Err(DownloadFailure::InvalidUri),
        9 => Err(DownloadFailure::UnsupportedProtocol),
        other => download(other, DownloadFailure::ConnectionLost),
    }
}

/// The host's own download of a Package URI ended (`download` callback): `update_result` 0
/// once the whole package is stored (the library then calls `verify`), else the Update
/// Result of the failure: 2, 3, 4, 5, 6, 7 or 9 (any other counts as 4). INVALID_STATE when
/// no such download runs (or firmware update is not enabled).
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_firmware_downloaded(
    client: *mut lwm2mc_client,
    now_ms: u64,
    update_result: u32,
) -> lwm2mc_result {
    with_client(client, |c| {
        let outcome = match update_result {
            0 => Ok(()),
            r => own_download(r),
        };
        c.core()?
            .firmware_downloaded(now_ms, outcome)
            .map_err(firmware_error)?;
        c.flush()
    })
}

/// The user agreed to the update that waits for them (event FIRMWARE_UPDATE_AWAITING_USER):
/// it is installed now, inside this call. INVALID_STATE when no update waits.
///
/// # Safety
/// `client` must be NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_client_firmware_accept_update(
    client: *mut lwm2mc_client,
    now_ms: u64,
) -> lwm2mc_result {
    with_client(client, |c| {
        c.core()?
            .firmware_accept_update(now_ms)
            .map_err(firmware_error)?;
        c.flush()
    })
}

fn firmware_error(_: FirmwareError) -> lwm2mc_result {
    lwm2mc_result::InvalidState
}

fn download(
    code: lwm2mc_callback_result,
    otherwise: DownloadFailure,
) -> Result<(), DownloadFailure> {
    match code {
        0 => Ok(()),
        2 => Err(DownloadFailure::NotEnoughFlash),
        3 => Err(DownloadFailure::OutOfRam),
        5 => Err(DownloadFailure::IntegrityFailure),
        6 => Err(DownloadFailure::UnsupportedPackage),
        _ => Err(otherwise),
    }
}

fn install_failure(code: lwm2mc_callback_result) -> InstallFailure {
    match code {
        8 => InstallFailure::Failed,
        5 => InstallFailure::IntegrityFailure,
        _ => InstallFailure::FailedImageLost,
    }
}

impl FirmwareInstaller for CFirmware {
    fn open(&mut self, size: Option<u64>) -> Result<(), DownloadFailure> {
        let Some(f) = self.table.open else {
            return Ok(());
        };
        // SAFETY: plain values; the host's own userdata.
        let r = unsafe { f(self.table.userdata, size.unwrap_or(0), size.is_some()) };
        download(r, DownloadFailure::NotEnoughFlash)
    }

    fn write(&mut self, offset: u64, chunk: &[u8]) -> Result<(), DownloadFailure> {
        let Some(f) = self.table.write else {
            return Ok(());
        };
        // SAFETY: chunk is readable for its length during the call.
        let r = unsafe { f(self.table.userdata, offset, chunk.as_ptr(), chunk.len()) };
        download(r, DownloadFailure::NotEnoughFlash)
    }

    fn verify(&mut self) -> Result<(), DownloadFailure> {
        let Some(f) = self.table.verify else {
            return Ok(());
        };
        // SAFETY: the host's own userdata.
        download(
            unsafe { f(self.table.userdata) },
            DownloadFailure::IntegrityFailure,
        )
    }

    fn apply(&mut self) -> Result<Applied, InstallFailure> {
        let Some(f) = self.table.apply else {
            return Err(InstallFailure::Failed);
        };
        // SAFETY: the host's own userdata.
        match unsafe { f(self.table.userdata) } {
            0 => Ok(Applied::Running),
            r if r == lwm2mc_firmware_apply::Restarting as u32 => Ok(Applied::Restarting),
            r => Err(install_failure(r)),
        }
    }

    fn outcome(&mut self) -> Result<(), InstallFailure> {
        let Some(f) = self.table.outcome else {
            return Ok(());
        };
        // SAFETY: the host's own userdata.
        match unsafe { f(self.table.userdata) } {
            0 => Ok(()),
            r => Err(install_failure(r)),
        }
    }

    fn discard(&mut self) {
        if let Some(f) = self.table.discard {
            // SAFETY: the host's own userdata.
            unsafe { f(self.table.userdata) };
        }
    }

    fn download_protocols(&self) -> &[DownloadProtocol] {
        &self.protocols
    }

    fn download(&mut self, uri: &str) -> Result<(), DownloadFailure> {
        let Some(f) = self.table.download else {
            return Err(DownloadFailure::UnsupportedProtocol);
        };
        // The machine checked the URI: printable ASCII, so no NUL inside.
        let mut text = Vec::with_capacity(uri.len() + 1);
        text.extend_from_slice(uri.as_bytes());
        text.push(0);
        // SAFETY: `text` is NUL-terminated and outlives the call.
        own_download(unsafe { f(self.table.userdata, text.as_ptr().cast()) })
    }

    fn defer_update(&mut self) -> bool {
        // SAFETY: the host's own userdata.
        self.table
            .defer_update
            .is_some_and(|f| unsafe { f(self.table.userdata) })
    }
}
