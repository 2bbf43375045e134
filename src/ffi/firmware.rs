//! Firmware update from C: the host's callbacks receive the package a server pushes to
//! `/5/0/0`, check it and install it; the library runs object 5's state machine.

#![allow(non_camel_case_types)]

use core::ffi::c_void;

use super::config::{lwm2mc_config, with_config};
use super::guard::as_ref;
use super::result::lwm2mc_result;
use super::types::lwm2mc_callback_result;
use crate::object::{Applied, DownloadFailure, FirmwareInstaller, InstallFailure};

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
pub(crate) struct CFirmware(pub(crate) lwm2mc_firmware_callbacks);

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
        let Some(f) = self.0.open else { return Ok(()) };
        // SAFETY: plain values; the host's own userdata.
        let r = unsafe { f(self.0.userdata, size.unwrap_or(0), size.is_some()) };
        download(r, DownloadFailure::NotEnoughFlash)
    }

    fn write(&mut self, offset: u64, chunk: &[u8]) -> Result<(), DownloadFailure> {
        let Some(f) = self.0.write else { return Ok(()) };
        // SAFETY: chunk is readable for its length during the call.
        let r = unsafe { f(self.0.userdata, offset, chunk.as_ptr(), chunk.len()) };
        download(r, DownloadFailure::NotEnoughFlash)
    }

    fn verify(&mut self) -> Result<(), DownloadFailure> {
        let Some(f) = self.0.verify else {
            return Ok(());
        };
        // SAFETY: the host's own userdata.
        download(
            unsafe { f(self.0.userdata) },
            DownloadFailure::IntegrityFailure,
        )
    }

    fn apply(&mut self) -> Result<Applied, InstallFailure> {
        let Some(f) = self.0.apply else {
            return Err(InstallFailure::Failed);
        };
        // SAFETY: the host's own userdata.
        match unsafe { f(self.0.userdata) } {
            0 => Ok(Applied::Running),
            r if r == lwm2mc_firmware_apply::Restarting as u32 => Ok(Applied::Restarting),
            r => Err(install_failure(r)),
        }
    }

    fn outcome(&mut self) -> Result<(), InstallFailure> {
        let Some(f) = self.0.outcome else {
            return Ok(());
        };
        // SAFETY: the host's own userdata.
        match unsafe { f(self.0.userdata) } {
            0 => Ok(()),
            r => Err(install_failure(r)),
        }
    }

    fn discard(&mut self) {
        if let Some(f) = self.0.discard {
            // SAFETY: the host's own userdata.
            unsafe { f(self.0.userdata) };
        }
    }
}
