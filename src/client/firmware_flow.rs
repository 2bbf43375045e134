//! Firmware Update (object 5, Core 1.1 §E.6) over the library's own endpoint: the package a
//! server pushes to `/5/0/0` is streamed block by block (RFC 7959 Block1) to the
//! application's `FirmwareInstaller`, never held whole; Update (`/5/0/2`) and Cancel
//! (`/5/0/10`) run the state machine of `crate::firmware`, whose State and Update Result are
//! mirrored into the store, so that Read and Observe of `/5/0/3` and `/5/0/5` work as for any
//! value.

use super::*;
use crate::coap::blockwise::Block;
use crate::firmware::{DownloadError, Firmware, Input, Output, UpdateError};
use crate::object::{Applied, DownloadFailure, FirmwareInstaller, InstallFailure};

/// The storage key of the state machine's snapshot (State, Update Result, Package URI).
const SNAPSHOT_KEY: &str = "firmware";

/// Firmware update as the client runs it.
pub(super) struct FirmwareUpdate {
    machine: Firmware,
    installer: Box<dyn FirmwareInstaller>,
    /// The bytes of the package received so far (the offset of the next block).
    received: u64,
    /// While a push is under way: when it is given up if no block comes (EXCHANGE_LIFETIME
    /// after the last one).
    push_expires: Option<u64>,
}

impl Client {
    /// Enables firmware update by push (`/5/0/0`): object 5 is defined with its instance 0
    /// and `installer` receives the package. Call it before `start`.
    pub fn set_firmware(
        &mut self,
        installer: Box<dyn FirmwareInstaller>,
    ) -> Result<(), crate::store::StoreError> {
        let machine = Firmware::new(crate::firmware::Delivery::Push, &[]);
        self.store.define(crate::model::FIRMWARE.clone(), false);
        self.firmware = Some(FirmwareUpdate {
            machine,
            installer,
            received: 0,
            push_expires: None,
        });
        // Core 1.1 §E.6: an installation that restarted the device is reported now.
        if let Some(snapshot) = self.load_firmware_snapshot() {
            let restored = self
                .firmware
                .as_mut()
                .map(|fw| fw.machine.restore(&snapshot));
            if let Some(Ok(outputs)) = restored {
                self.run_firmware_outputs(outputs, &[]);
            }
        }
        self.mirror_firmware()
    }

    fn load_firmware_snapshot(&mut self) -> Option<crate::firmware::Snapshot> {
        let bytes = self.storage.as_mut()?.load(SNAPSHOT_KEY).ok()??;
        let (&[version, state, result], uri) = (bytes.get(..3)?, bytes.get(3..)?) else {
            return None;
        };
        if version != 1 {
            return None;
        }
        Some(crate::firmware::Snapshot {
            state,
            result,
            package_uri: String::from_utf8(uri.to_vec()).ok()?,
        })
    }

    /// Saves the state machine's snapshot: before an installation starts (which may restart
    /// the device), so that its outcome is reported after the restart.
    fn save_firmware_snapshot(&mut self) {
        let Some(fw) = self.firmware.as_ref() else {
            return;
        };
        let s = fw.machine.snapshot();
        let mut bytes = alloc::vec![1, s.state, s.result];
        bytes.extend_from_slice(s.package_uri.as_bytes());
        if let Some(storage) = self.storage.as_mut() {
            if storage.store(SNAPSHOT_KEY, &bytes).is_err() {
                self.emit(Event::StorageError {
                    reason: "could not save the firmware update state".into(),
                });
            }
        }
    }

    /// Writes the state machine's State, Update Result, Delivery Method and Package URI into
    /// `/5/0` (creating the instance), so that Read, Discover and Observe see them.
    pub(super) fn mirror_firmware(&mut self) -> Result<(), crate::store::StoreError> {
        let Some(fw) = self.firmware.as_ref() else {
            return Ok(());
        };
        let integers = [
            (3, fw.machine.state().value()),
            (5, fw.machine.result().value()),
            (9, fw.machine.delivery().value()),
        ];
        let uri = fw.machine.package_uri().to_string();
        for (rid, value) in integers {
            self.store
                .set(&Path::resource(5, 0, rid), Value::Integer(i64::from(value)))?;
        }
        self.store.set(&Path::resource(5, 0, 1), Value::String(uri))
    }

    /// Takes the requests object 5 runs itself (a Package write in any number of blocks,
    /// Package URI, Update, Cancel); `false` leaves the request to the DM layer.
    pub(super) fn firmware_request(
        &mut self,
        now: u64,
        peer: PeerId,
        packet: &Packet,
        req: &Request,
    ) -> bool {
        if self.firmware.is_none() {
            return false;
        }
        let Ok(path) = req.path() else { return false };
        let reply = match (
            req.method,
            path.object_id(),
            path.instance_id(),
            path.resource_id(),
        ) {
            (msg::PUT | msg::POST, Some(5), Some(0), Some(0))
                if path.resource_instance_id().is_none() =>
            {
                self.package_block(packet, req)
            }
            // Package URI in plain text (Core 1.1 §E.6): this device takes no pull, so a
            // non-empty URI is refused (4.05) and the empty one resets.
            (msg::PUT | msg::POST, Some(5), Some(0), Some(1))
                if matches!(req.content_format, Some(0))
                    && path.resource_instance_id().is_none() =>
            {
                match String::from_utf8(req.payload.clone()) {
                    Ok(uri) => self.firmware_input(Input::UriWritten(uri), &[]),
                    Err(_) => Reply::error(msg::BAD_REQUEST, "Package URI is not UTF-8"),
                }
            }
            (msg::POST, Some(5), Some(0), Some(2))
                if matches!(req.content_format, None | Some(0)) =>
            {
                self.firmware_input(Input::UpdateExecuted { defer: false }, &[])
            }
            (msg::POST, Some(5), Some(0), Some(10))
                if matches!(req.content_format, None | Some(0)) =>
            {
                self.firmware_input(Input::CancelExecuted, &[])
            }
            _ => return false,
        };
        // A push that stops half way ends with Update Result 4 (connection lost) once no
        // block came for EXCHANGE_LIFETIME (RFC 7959 §2.4 lets the server drop the state).
        let lifetime = self.params.exchange_lifetime_ms();
        if let Some(fw) = self.firmware.as_mut() {
            let receiving = fw.machine.state() == crate::firmware::State::Downloading;
            fw.push_expires = receiving.then(|| now.saturating_add(lifetime));
        }
        self.respond(now, peer, packet, reply);
        true
    }

    /// When an unfinished push is given up.
    pub(super) fn firmware_deadline(&self) -> Option<u64> {
        self.firmware.as_ref().and_then(|fw| fw.push_expires)
    }

    /// Gives up a push whose next block did not come in time.
    pub(super) fn drive_firmware(&mut self, now: u64) {
        let expired = self
            .firmware
            .as_ref()
            .and_then(|fw| fw.push_expires)
            .is_some_and(|at| now >= at);
        if expired {
            if let Some(fw) = self.firmware.as_mut() {
                fw.push_expires = None;
            }
            let _ = self.firmware_input(Input::DownloadFailed(DownloadError::ConnectionLost), &[]);
        }
    }

    /// One block (or the whole) of a Package write. RFC 7959 §2.3: blocks come in order; the
    /// answer to each but the last is 2.31 Continue (Block1 echoed by `respond`).
    fn package_block(&mut self, packet: &Packet, req: &Request) -> Reply {
        let block =
            match crate::coap::blockwise::block_option(packet, coap_lite::CoapOption::Block1) {
                None => Block {
                    num: 0,
                    more: false,
                    szx: 6,
                },
                Some(Some(b)) => b,
                Some(None) => return Reply::error(msg::BAD_REQUEST, "malformed Block1 option"),
            };
        if block.more && req.payload.len() != block.size() {
            return Reply::error(
                msg::BAD_REQUEST,
                "a block before the last must fill its block size",
            );
        }
        let Some(fw) = self.firmware.as_mut() else {
            return Reply::code(msg::NOT_FOUND);
        };
        if block.num == 0 {
            if !block.more && crate::firmware::is_empty_package(&req.payload) {
                return self.firmware_input(Input::PackageEmpty, &[]);
            }
            let size = msg::uint_option(packet, coap_lite::CoapOption::Size1).map(u64::from);
            fw.received = 0;
            let started = self.firmware_input(Input::PackageWriteStarted { size }, &[]);
            if !started.is_success() {
                return started;
            }
        } else {
            let offset = u64::try_from(block.offset()).unwrap_or(u64::MAX);
            let end = offset.saturating_add(req.payload.len() as u64);
            if end == fw.received && block.more {
                return Reply::code(msg::CONTINUE); // a retransmitted block, taken already
            }
            if offset != fw.received {
                // The transfer cannot be completed: Update Result 4 (connection lost).
                let _ =
                    self.firmware_input(Input::DownloadFailed(DownloadError::ConnectionLost), &[]);
                return Reply::error(
                    msg::REQUEST_ENTITY_INCOMPLETE,
                    format!("block {} does not follow the blocks received", block.num),
                );
            }
        }
        let len = req.payload.len();
        let chunk = self.firmware_input(Input::PackageChunk { len }, &req.payload);
        if !chunk.is_success() {
            return chunk;
        }
        // The installer could not take it (out of flash or RAM): the transfer stops here,
        // the reason is in Update Result (Core 1.1 §E.6).
        if let Some(stopped) = self.download_stopped() {
            return stopped;
        }
        if block.more {
            return Reply::code(msg::CONTINUE);
        }
        let done = self.firmware_input(Input::PackageComplete, &[]);
        match done.is_success() {
            true => Reply::code(msg::CHANGED),
            false => done,
        }
    }

    /// After the installer failed to open or store the package: 5.00 naming the Update Result,
    /// so that the server stops sending blocks. `None` while the download goes on.
    fn download_stopped(&self) -> Option<Reply> {
        let fw = self.firmware.as_ref()?;
        (fw.machine.state() != crate::firmware::State::Downloading).then(|| {
            Reply::error(
                msg::INTERNAL_SERVER_ERROR,
                format!(
                    "the package could not be stored (Update Result {})",
                    fw.machine.result().value()
                ),
            )
        })
    }

    /// Feeds the state machine one input from a request (with the package bytes it brought,
    /// if any) and carries out what follows; the reply for that request.
    fn firmware_input(&mut self, input: Input, chunk: &[u8]) -> Reply {
        let Some(fw) = self.firmware.as_mut() else {
            return Reply::code(msg::NOT_FOUND);
        };
        match fw.machine.handle(input) {
            Ok(outputs) => {
                self.run_firmware_outputs(outputs, chunk);
                Reply::code(msg::CHANGED)
            }
            Err(refusal) => Reply::error(refusal.code(), format!("{refusal:?}")),
        }
    }

    /// Carries out `outputs` and every input the installer's answers lead to, until nothing
    /// is left. A report the machine does not take changes nothing.
    fn run_firmware_outputs(&mut self, outputs: Vec<Output>, chunk: &[u8]) {
        let mut inputs: alloc::collections::VecDeque<Input> =
            self.run_firmware_outputs_once(outputs, chunk).into();
        while let Some(input) = inputs.pop_front() {
            let handled = self.firmware.as_mut().map(|fw| fw.machine.handle(input));
            if let Some(Ok(outputs)) = handled {
                inputs.extend(self.run_firmware_outputs_once(outputs, &[]));
            }
        }
    }

    /// Carries out `outputs` (saving the snapshot first when they change State or Update
    /// Result: an `Apply` may restart the device); the inputs the installer's answers make.
    fn run_firmware_outputs_once(&mut self, outputs: Vec<Output>, chunk: &[u8]) -> Vec<Input> {
        if outputs.iter().any(|o| matches!(o, Output::Changed { .. })) {
            self.save_firmware_snapshot();
        }
        outputs
            .into_iter()
            .filter_map(|output| self.firmware_output(output, chunk))
            .collect()
    }

    /// Carries out one output; the input the installer's answer makes, if any.
    fn firmware_output(&mut self, output: Output, chunk: &[u8]) -> Option<Input> {
        let fw = self.firmware.as_mut()?;
        let input = match output {
            Output::OpenPackage { size } => fw
                .installer
                .open(size)
                .err()
                .map(|e| Input::DownloadFailed(download_error(e))),
            Output::WriteChunk { offset, len } => {
                let failed = fw
                    .installer
                    .write(offset, chunk.get(..len).unwrap_or(chunk))
                    .err();
                fw.received = offset.saturating_add(len as u64);
                failed.map(|e| Input::DownloadFailed(download_error(e)))
            }
            Output::Verify => Some(Input::VerifyResult(
                fw.installer.verify().map_err(download_error),
            )),
            Output::Discard => {
                fw.installer.discard();
                fw.received = 0;
                None
            }
            Output::Apply => match fw.installer.apply() {
                Ok(Applied::Running) => Some(Input::UpdateFinished(Ok(()))),
                // Updating stays (and is saved): the outcome is asked after the restart.
                Ok(Applied::Restarting) => None,
                Err(e) => Some(Input::UpdateFinished(Err(update_error(e)))),
            },
            // Pull, user deferral and a reboot's outcome are not offered by this client yet.
            Output::StartPull { .. } => {
                Some(Input::DownloadFailed(DownloadError::UnsupportedProtocol))
            }
            Output::AskUser => Some(Input::UpdateAccepted),
            Output::QueryOutcome => Some(Input::UpdateFinished(
                fw.installer.outcome().map_err(update_error),
            )),
            Output::Changed { .. } => {
                let _ = self.mirror_firmware(); // the definition is there: set cannot fail
                None
            }
        };
        input
    }
}

fn download_error(e: DownloadFailure) -> DownloadError {
    match e {
        DownloadFailure::NotEnoughFlash => DownloadError::NotEnoughFlash,
        DownloadFailure::OutOfRam => DownloadError::OutOfRam,
        DownloadFailure::IntegrityFailure => DownloadError::IntegrityFailure,
        DownloadFailure::UnsupportedPackage => DownloadError::UnsupportedPackage,
    }
}

fn update_error(e: InstallFailure) -> UpdateError {
    match e {
        InstallFailure::Failed => UpdateError::Failed,
        InstallFailure::FailedImageLost => UpdateError::FailedImageLost,
        InstallFailure::IntegrityFailure => UpdateError::IntegrityFailure,
    }
}
