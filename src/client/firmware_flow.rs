//! Firmware Update (object 5, Core 1.1 §E.6) over the library's own endpoint: the package a
//! server pushes to `/5/0/0` is streamed block by block (RFC 7959 Block1) to the
//! application's `FirmwareInstaller`, never held whole, and so is one pulled from a Package URI
//! (`/5/0/1`, see `firmware_pull`); Update (`/5/0/2`, possibly deferred to the user) and Cancel
//! (`/5/0/10`) run the state machine of `crate::firmware`, whose State and Update Result are
//! mirrored into the store, so that Read and Observe of `/5/0/3` and `/5/0/5` work as for any
//! value.

use super::*;
use crate::coap::blockwise::Block;
use crate::firmware::{DownloadError, Firmware, Input, Output, Protocol, UpdateError};
use crate::object::{
    Applied, DownloadFailure, DownloadProtocol, FirmwareInstaller, InstallFailure,
};

/// The storage key of the state machine's snapshot (State, Update Result, Package URI).
const SNAPSHOT_KEY: &str = "firmware";

/// Firmware update as the client runs it.
pub(super) struct FirmwareUpdate {
    pub(super) machine: Firmware,
    pub(super) installer: Box<dyn FirmwareInstaller>,
    /// The bytes of the package received so far (the offset of the next block).
    pub(super) received: u64,
    /// While a push is under way: when it is given up if no block comes (EXCHANGE_LIFETIME
    /// after the last one).
    push_expires: Option<u64>,
    /// The CoAP pull under way, if any.
    pub(super) pull: Option<super::firmware_pull::Pull>,
    /// Whether the application downloads the package itself (`FirmwareInstaller::download`).
    pub(super) app_download: bool,
    /// While an update waits for the user: when Maximum Defer Period (`/5/0/13`) runs out.
    defer_until: Option<u64>,
}

impl Client {
    /// Enables firmware update: object 5 is defined with its instance 0 and `installer`
    /// receives the package, pushed to `/5/0/0` or pulled from a `coap://` Package URI by the
    /// library (or from another scheme by the installer's own downloader,
    /// `FirmwareInstaller::download_protocols`). Call it before `start`.
    pub fn set_firmware(
        &mut self,
        installer: Box<dyn FirmwareInstaller>,
    ) -> Result<(), crate::store::StoreError> {
        // XML /5/0/8: CoAP, which the library pulls itself, and the installer's own.
        let mut protocols = alloc::vec![Protocol::Coap];
        protocols.extend(installer.download_protocols().iter().map(|p| match p {
            DownloadProtocol::Coaps => Protocol::Coaps,
            DownloadProtocol::Http => Protocol::Http,
            DownloadProtocol::Https => Protocol::Https,
            DownloadProtocol::CoapTcp => Protocol::CoapTcp,
            DownloadProtocol::CoapsTcp => Protocol::CoapTls,
        }));
        let machine = Firmware::new(crate::firmware::Delivery::Both, &protocols);
        self.store.define_static(&crate::model::FIRMWARE, false);
        self.firmware = Some(Box::new(FirmwareUpdate {
            machine,
            installer,
            received: 0,
            push_expires: None,
            pull: None,
            app_download: false,
            defer_until: None,
        }));
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
        let protocols: crate::value::VecMap<u16, Value> = fw
            .machine
            .protocols()
            .zip(0u16..)
            .map(|(p, ri)| (ri, Value::Integer(i64::from(p.value()))))
            .collect();
        for (rid, value) in integers {
            self.store
                .set(&Path::resource(5, 0, rid), Value::Integer(i64::from(value)))?;
        }
        let mut support = crate::value::Resources::new();
        support.insert(8, ResourceValue::Multiple(protocols));
        self.store.merge_instance(5, 0, support)?;
        self.store.set(&Path::resource(5, 0, 1), Value::String(uri))
    }

    /// Takes the requests object 5 runs itself (a Package write in any number of blocks,
    /// Package URI, Update, Cancel); `false` leaves the request to the DM layer.
    pub(super) fn firmware_request(
        &mut self,
        now: u64,
        peer: PeerId,
        packet: &Message<'_>,
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
            // Package URI, in any format that can carry a string: the download starts (or
            // its URI is reported unusable in Update Result), the empty one resets.
            (msg::PUT | msg::POST, Some(5), Some(0), Some(1))
                if path.resource_instance_id().is_none() =>
            {
                match self.written_uri(req) {
                    Ok(uri) => self.firmware_input(Input::UriWritten(uri), &[]),
                    Err(reply) => reply,
                }
            }
            (msg::POST, Some(5), Some(0), Some(2))
                if matches!(req.content_format, None | Some(0)) =>
            {
                let defer = self.update_deferred();
                self.firmware_input(Input::UpdateExecuted { defer }, &[])
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
            let pushing = fw.pull.is_none() && !fw.app_download;
            let receiving = fw.machine.state() == crate::firmware::State::Downloading;
            fw.push_expires = (receiving && pushing).then(|| now.saturating_add(lifetime));
        }
        self.respond(now, peer, packet, reply);
        true
    }

    /// The string a Write of Package URI carries (text, TLV, SenML, ...), or the answer that
    /// refuses it (FACTS §4.1: 4.00 for a value that does not decode, 4.15 for a format this
    /// build lacks).
    fn written_uri(&self, req: &Request) -> Result<String, Reply> {
        let format = req
            .content_format
            .map_or(Some(crate::codec::ContentFormat::Text), |cf| {
                crate::codec::ContentFormat::from_code(cf)
            })
            .filter(|f| f.can_decode())
            .ok_or_else(|| Reply::code(msg::UNSUPPORTED_CONTENT_FORMAT))?;
        let target = Path::resource(5, 0, 1);
        let decoded = crate::codec::decode(format, &target, &req.payload, &self.store)
            .map_err(|e| Reply::error(msg::BAD_REQUEST, e.to_string()))?;
        match decoded.get(&0).and_then(|r| r.get(&1)) {
            Some(ResourceValue::Single(Value::String(uri))) => Ok(uri.clone()),
            _ => Err(Reply::error(msg::BAD_REQUEST, "no Package URI string")),
        }
    }

    /// Whether an Update now waits for the user: the installer asks for it, and Maximum
    /// Defer Period (`/5/0/13`) is not 0 ("If the value is 0, a deferred update is not
    /// allowed", [XML /5/0/13]).
    fn update_deferred(&mut self) -> bool {
        let period = self.store.value(&Path::resource(5, 0, 13)).cloned();
        let Some(fw) = self.firmware.as_mut() else {
            return false;
        };
        period != Some(Value::Unsigned(0)) && fw.installer.defer_update()
    }

    /// The user agreed to a deferred update (`FirmwareInstaller::defer_update`): it is
    /// installed now.
    pub fn firmware_accept_update(&mut self, now: u64) -> Result<(), FirmwareError> {
        let now = self.clock(now);
        let fw = self.firmware.as_mut().ok_or(FirmwareError::NotEnabled)?;
        let outputs = fw
            .machine
            .handle(Input::UpdateAccepted)
            .map_err(|_| FirmwareError::OutOfSequence)?;
        fw.defer_until = None;
        self.run_firmware_outputs(outputs, &[]);
        self.drive(now);
        Ok(())
    }

    /// When an unfinished push is given up, or a deferred update installed anyway.
    pub(super) fn firmware_deadline(&self) -> Option<u64> {
        let fw = self.firmware.as_ref()?;
        match (fw.push_expires, fw.defer_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Gives up a push whose next block did not come in time; installs a deferred update
    /// whose Maximum Defer Period ran out ("the device will not prompt the user for update and
    /// install it automatically", [XML /5/0/13]).
    pub(super) fn drive_firmware(&mut self, now: u64) {
        let defer_over = self
            .firmware
            .as_ref()
            .and_then(|fw| fw.defer_until)
            .is_some_and(|at| now >= at);
        if defer_over {
            if let Some(fw) = self.firmware.as_mut() {
                fw.defer_until = None;
            }
            self.firmware_step(Input::UpdateAccepted, &[]);
        }
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
    fn package_block(&mut self, packet: &Message<'_>, req: &Request) -> Reply {
        let block = match crate::coap::blockwise::block_in(packet.first_option(option::BLOCK1)) {
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
            let size = packet.uint_option(option::SIZE1).map(u64::from);
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

    /// Feeds the state machine one input that answers no request (a pulled block, a timer).
    pub(super) fn firmware_step(&mut self, input: Input, chunk: &[u8]) {
        let _ = self.firmware_input(input, chunk);
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
        match output {
            Output::StartPull { uri } => return self.start_pull(&uri),
            Output::AskUser => {
                // XML /5/0/13: once the period is over the update is installed anyway.
                let period = match self.store.value(&Path::resource(5, 0, 13)) {
                    Some(Value::Unsigned(s)) => Some(*s),
                    _ => None,
                };
                let now = self.now;
                if let Some(fw) = self.firmware.as_mut() {
                    fw.defer_until = period.map(|s| now.saturating_add(s.saturating_mul(1000)));
                }
                self.emit(Event::FirmwareUpdateAwaitingUser);
                return None;
            }
            Output::Discard => {
                self.stop_pull();
                let fw = self.firmware.as_mut()?;
                fw.installer.discard();
                fw.received = 0;
                fw.app_download = false;
                fw.defer_until = None;
                return None;
            }
            _ => {}
        }
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
            Output::Apply => match fw.installer.apply() {
                Ok(Applied::Running) => Some(Input::UpdateFinished(Ok(()))),
                // Updating stays (and is saved): the outcome is asked after the restart.
                Ok(Applied::Restarting) => None,
                Err(e) => Some(Input::UpdateFinished(Err(update_error(e)))),
            },
            Output::StartPull { .. } | Output::AskUser | Output::Discard => None,
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

pub(super) fn download_error(e: DownloadFailure) -> DownloadError {
    match e {
        DownloadFailure::NotEnoughFlash => DownloadError::NotEnoughFlash,
        DownloadFailure::OutOfRam => DownloadError::OutOfRam,
        DownloadFailure::IntegrityFailure => DownloadError::IntegrityFailure,
        DownloadFailure::UnsupportedPackage => DownloadError::UnsupportedPackage,
        DownloadFailure::ConnectionLost => DownloadError::ConnectionLost,
        DownloadFailure::InvalidUri => DownloadError::InvalidUri,
        DownloadFailure::UnsupportedProtocol => DownloadError::UnsupportedProtocol,
    }
}

fn update_error(e: InstallFailure) -> UpdateError {
    match e {
        InstallFailure::Failed => UpdateError::Failed,
        InstallFailure::FailedImageLost => UpdateError::FailedImageLost,
        InstallFailure::IntegrityFailure => UpdateError::IntegrityFailure,
    }
}
