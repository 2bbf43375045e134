//! Application objects whose values live in the application (a C callback table, a Python
//! class) rather than in the store. The data model (`data_model`) calls the handler per
//! operation, after the request passed its checks; errors become the CoAP code it names.

use alloc::vec::Vec;

use crate::coap::msg;
use crate::value::{ResourceValue, Resources};

/// The resources an instance holds: each ID with, for a multiple resource, its number of
/// instances (Discover's `dim`).
pub type PresentResources = Vec<(u16, Option<usize>)>;

/// Why an application object did not do an operation: the CoAP response code the server
/// receives (Core 1.1 §5.4: the codes a Device Management operation may answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 4.00: the value or the request is not acceptable to the object.
    BadRequest,
    /// 4.01: the server may not do this.
    Unauthorized,
    /// 4.04: the instance or resource is not there (for `read`: the resource is absent).
    NotFound,
    /// 4.05: the object does not support this operation.
    MethodNotAllowed,
    /// 4.06: the value cannot be given in the asked format.
    NotAcceptable,
    /// 5.00: the object failed.
    InternalServerError,
    /// 5.03: the object cannot answer now (a sensor asleep, a bus busy).
    ServiceUnavailable,
}

impl ErrorCode {
    /// The CoAP code (class << 5 | detail, RFC 7252 §3).
    pub const fn code(self) -> u8 {
        match self {
            ErrorCode::BadRequest => msg::BAD_REQUEST,
            ErrorCode::Unauthorized => msg::UNAUTHORIZED,
            ErrorCode::NotFound => msg::NOT_FOUND,
            ErrorCode::MethodNotAllowed => msg::METHOD_NOT_ALLOWED,
            ErrorCode::NotAcceptable => msg::NOT_ACCEPTABLE,
            ErrorCode::InternalServerError => msg::INTERNAL_SERVER_ERROR,
            ErrorCode::ServiceUnavailable => msg::SERVICE_UNAVAILABLE,
        }
    }
}

/// The application side of one object. Every method may fail with an [`ErrorCode`], which the
/// server receives.
pub trait ObjectHandler: Send {
    /// The instance IDs that exist now.
    fn instances(&mut self) -> Result<Vec<u16>, ErrorCode>;
    /// The current value of `/O/iid/rid`; `Err(NOT_FOUND)` means the resource is not present.
    fn read(&mut self, iid: u16, rid: u16) -> Result<ResourceValue, ErrorCode>;
    /// A server wrote `/O/iid/rid`.
    fn write(&mut self, iid: u16, rid: u16, value: &ResourceValue) -> Result<(), ErrorCode>;
    /// A server executed `/O/iid/rid` with these arguments.
    fn execute(&mut self, iid: u16, rid: u16, args: &[u8]) -> Result<(), ErrorCode>;
    /// A server created instance `iid` with these (writable) resource values. By default the
    /// object refuses (4.05).
    fn create(&mut self, iid: u16, resources: &Resources) -> Result<(), ErrorCode> {
        let _ = (iid, resources);
        Err(ErrorCode::MethodNotAllowed)
    }
    /// The resources instance `iid` holds, with the number of instances of each multiple one,
    /// for Discover, which then calls no `read` (a Discover must not read every sensor). By
    /// default `None`: the library reads the readable resources to find out.
    fn resources(&mut self, iid: u16) -> Result<Option<PresentResources>, ErrorCode> {
        let _ = iid;
        Ok(None)
    }
    /// A server deleted instance `iid`. By default the object refuses (4.05).
    fn delete(&mut self, iid: u16) -> Result<(), ErrorCode> {
        let _ = iid;
        Err(ErrorCode::MethodNotAllowed)
    }

    // The transaction around one server request that changes this object (as Anjay's
    // `transaction_begin/validate/commit/rollback`): `begin` before the first `write`,
    // `create` or `delete` of the request; then `validate` once all are made, and `commit` if
    // the whole request succeeded (every object it changed validated, the configuration was
    // saved), else `rollback`, which must restore the state `begin` saw.

    /// A request is about to change this object. By default nothing to prepare.
    fn begin(&mut self) -> Result<(), ErrorCode> {
        Ok(())
    }
    /// Every change of the request was made: is the object consistent? An error refuses the
    /// whole request (the server receives the code) and `rollback` follows.
    fn validate(&mut self) -> Result<(), ErrorCode> {
        Ok(())
    }
    /// The request succeeded: the changes stay.
    fn commit(&mut self) {}
    /// The request failed (here or in another object): undo every change since `begin`.
    fn rollback(&mut self) {}
}

/// Why receiving or checking a firmware package failed: the Update Result the server sees
/// (Firmware Update object 5, `/5/0/5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DownloadFailure {
    /// 2: the package does not fit in flash.
    NotEnoughFlash,
    /// 3: out of RAM.
    OutOfRam,
    /// 5: the package failed its integrity check.
    IntegrityFailure,
    /// 6: the package is not of a type the device can install.
    UnsupportedPackage,
    /// 4: the connection was lost while downloading (an application's own download).
    ConnectionLost,
    /// 7: the Package URI could not be used (no such host or file).
    InvalidUri,
    /// 9: the Package URI needs a protocol the application does not download with.
    UnsupportedProtocol,
}

/// A protocol the application downloads packages with itself, given a Package URI
/// (`/5/0/1`) of its scheme; listed in Firmware Update Protocol Support (`/5/0/8`). Plain CoAP
/// the library pulls itself, through its own endpoint, and always offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DownloadProtocol {
    /// 1: CoAPS (`coaps://`).
    Coaps,
    /// 2: HTTP 1.1 (`http://`).
    Http,
    /// 3: HTTPS 1.1 (`https://`).
    Https,
    /// 4: CoAP over TCP (`coap+tcp://`).
    CoapTcp,
    /// 5: CoAP over TLS (`coaps+tcp://`).
    CoapsTcp,
}

/// How installing a firmware package failed (Update Result 8, or 5 for a package found
/// corrupt at installation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InstallFailure {
    /// 8, back to Downloaded: the package is kept and Update may be executed again.
    Failed,
    /// 8, back to Idle: the package is gone or unusable.
    FailedImageLost,
    /// 5, back to Idle: the package failed its integrity check at installation.
    IntegrityFailure,
}

/// How an installation went on (`FirmwareInstaller::apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Applied {
    /// The new firmware is installed and running: Update Result 1 now.
    Running,
    /// The device restarts to finish: the library keeps State Updating (saved, if it has a
    /// storage) and asks `FirmwareInstaller::outcome` after the restart.
    Restarting,
}

/// The application side of firmware update (object 5, Core 1.1 §E.6): where a pushed package
/// goes, how it is checked and installed. The library runs the object's state machine and
/// answers the server; the package is streamed through `write`, never held whole.
pub trait FirmwareInstaller: Send {
    /// A package starts arriving; `size` is its total if the server announced it (Size1).
    fn open(&mut self, size: Option<u64>) -> Result<(), DownloadFailure>;
    /// `chunk` belongs at `offset` of the package (chunks come in order).
    fn write(&mut self, offset: u64, chunk: &[u8]) -> Result<(), DownloadFailure>;
    /// The whole package arrived: check it (signature, checksum, type).
    fn verify(&mut self) -> Result<(), DownloadFailure>;
    /// Install the package.
    fn apply(&mut self) -> Result<Applied, InstallFailure>;
    /// After a restart during an installation (`Applied::Restarting`): did it succeed? By
    /// default yes: the device came back, running the new firmware.
    fn outcome(&mut self) -> Result<(), InstallFailure> {
        Ok(())
    }
    /// Throw away what was received (the server reset or cancelled, or a transfer failed),
    /// and stop a download of the application's own if one runs.
    fn discard(&mut self);
    /// The protocols the application downloads packages with itself (see
    /// [`download`](Self::download)). None by default: the device pulls only `coap://`.
    fn download_protocols(&self) -> &[DownloadProtocol] {
        &[]
    }
    /// A server wrote a Package URI of one of [`download_protocols`](Self::download_protocols):
    /// start downloading it into the package storage, as `write` would store it, and report
    /// the end with `Client::firmware_downloaded` (the library then calls `verify`). An error
    /// here ends the download at once with its Update Result.
    fn download(&mut self, uri: &str) -> Result<(), DownloadFailure> {
        let _ = uri;
        Err(DownloadFailure::UnsupportedProtocol)
    }
    /// A server executed Update: whether to ask the user first (Update Result 11, "deferred",
    /// Core 1.1 §E.6) instead of installing now. The application reports the user's yes with
    /// `Client::firmware_accept_update`; Maximum Defer Period (`/5/0/13`) installs without it
    /// once over, and when 0 forbids deferring. No by default.
    fn defer_update(&mut self) -> bool {
        false
    }
}
