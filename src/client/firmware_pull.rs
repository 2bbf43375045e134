//! Firmware download from a Package URI (`/5/0/1`, Core 1.1 §E.6): `coap://` pulled by the
//! library itself through its own endpoint, block by block (RFC 7959 Block2), each block handed
//! to the installer as it arrives, so the package is never held whole; the other schemes of
//! Firmware Update Protocol Support (`/5/0/8`) handed to the application's own downloader.

use super::*;
use crate::coap::blockwise::requests::response_block;
use crate::coap::blockwise::{szx_for, Block};
use crate::firmware::{DownloadError, Input, State};
use crate::object::DownloadFailure;
use crate::peer::SecurityMode;
use crate::uri::{Scheme, ServerUri};

/// A CoAP pull under way.
pub(super) struct Pull {
    /// The file server (the LwM2M Server's own peer when the URI names its address).
    peer: PeerId,
    path: Vec<String>,
    query: Vec<String>,
    /// The first block's ETag: another one later means the file changed under the download.
    etag: Option<Vec<u8>>,
    /// Whether the installer was opened (on the first block, with its Size2).
    opened: bool,
}

/// Where a `coap://` Package URI points: the server, the path and the query, percent-decoded
/// (RFC 7252 §6.4). `None` for a URI that does not parse.
fn coap_target(uri: &str) -> Option<(ServerUri, Vec<String>, Vec<String>)> {
    let server = ServerUri::parse(uri).ok()?;
    if server.scheme != Scheme::Coap {
        return None;
    }
    let rest = uri.split_once("://")?.1;
    let rest = rest.split('#').next().unwrap_or_default();
    let after_authority = rest.find('/').map_or("", |at| &rest[at..]);
    let (path, query) = after_authority
        .split_once('?')
        .unwrap_or((after_authority, ""));
    let segments = path
        .split('/')
        .skip(1)
        .map(percent_decode)
        .collect::<Option<Vec<String>>>()?;
    // RFC 7252 §6.4 step 8: a path of "/" alone is no Uri-Path option.
    let segments = match segments.as_slice() {
        [only] if only.is_empty() => Vec::new(),
        _ => segments,
    };
    let queries = query
        .split('&')
        .filter(|q| !q.is_empty())
        .map(percent_decode)
        .collect::<Option<Vec<String>>>()?;
    Some((server, segments, queries))
}

/// `%XX` decoded (RFC 3986 §2.1); `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// The Update Result for a file server's error answer: the URI names nothing it serves (7),
/// or the download broke off (4).
fn answer_error(code: u8) -> DownloadError {
    match code {
        msg::BAD_REQUEST
        | msg::UNAUTHORIZED
        | msg::FORBIDDEN
        | msg::NOT_FOUND
        | msg::METHOD_NOT_ALLOWED => DownloadError::InvalidUri,
        _ => DownloadError::ConnectionLost,
    }
}

impl Client {
    /// Starts the download the state machine asked for (`Output::StartPull`); the input that
    /// ends it at once, if it cannot start.
    pub(super) fn start_pull(&mut self, uri: &str) -> Option<Input> {
        if uri
            .split_once(':')
            .is_some_and(|(s, _)| s.eq_ignore_ascii_case("coap"))
        {
            let Some((server, path, query)) = coap_target(uri) else {
                return Some(Input::DownloadFailed(DownloadError::InvalidUri));
            };
            let peer = self.pull_peer(server, uri);
            let fw = self.firmware.as_mut()?;
            fw.received = 0;
            fw.pull = Some(Pull {
                peer,
                path,
                query,
                etag: None,
                opened: false,
            });
            let first = Block {
                num: 0,
                more: false,
                szx: szx_for(self.config.block_size.unwrap_or(1024)),
            };
            self.ask_pull_block(first);
            return None;
        }
        // Another scheme of /5/0/8: the application's downloader (the machine checked it).
        let fw = self.firmware.as_mut()?;
        fw.received = 0;
        match fw.installer.download(uri) {
            Ok(()) => {
                fw.app_download = true;
                None
            }
            Err(e) => Some(Input::DownloadFailed(super::firmware_flow::download_error(
                e,
            ))),
        }
    }

    /// The peer to pull from: the peer already known at that address without security (the
    /// LwM2M Server serving its own files), or a new one.
    fn pull_peer(&mut self, server: ServerUri, uri: &str) -> PeerId {
        let known = self
            .peers
            .iter()
            .find(|(_, i)| i.uri == server && i.security_mode == SecurityMode::NoSec);
        if let Some((id, _)) = known {
            return *id;
        }
        self.peer_for(PeerInfo {
            uri: server,
            security_mode: SecurityMode::NoSec,
            public_key_or_identity: Vec::new(),
            server_public_key: Vec::new(),
            secret_key: Vec::new(),
            bootstrap: false,
            uri_text: uri.to_string(),
        })
    }

    /// Asks the file server for block `block` of the package (RFC 7959 §2.4), with Size2 = 0
    /// on the first to learn the size (§4).
    fn ask_pull_block(&mut self, block: Block) {
        let Some(pull) = self.firmware.as_ref().and_then(|fw| fw.pull.as_ref()) else {
            return;
        };
        let path: Vec<&str> = pull.path.iter().map(String::as_str).collect();
        let query: Vec<&str> = pull.query.iter().map(String::as_str).collect();
        let mut packet = MessageBuf::request(msg::GET, &path, &query);
        packet.add(option::BLOCK2, &block.encode());
        if block.num == 0 {
            packet.add(option::SIZE2, &[]);
        }
        let peer = pull.peer;
        let sizes = self.request_sizes();
        let id = self.requests.send(
            &mut self.endpoint,
            self.now,
            peer,
            packet,
            sizes,
            Reassemble::Blocks,
        );
        self.exchanges.insert(id, Purpose::FirmwarePull);
    }

    /// The file server answered a block request.
    pub(super) fn pull_answered(&mut self, response: &MessageBuf) {
        if let Err(error) = self.take_pull_block(response) {
            self.end_pull(Some(error));
        }
    }

    /// A block request went unanswered: Update Result 4.
    pub(super) fn pull_lost(&mut self) {
        self.end_pull(Some(DownloadError::ConnectionLost));
    }

    /// One block of the package: handed to the installer, then the next asked for or the
    /// package completed.
    fn take_pull_block(&mut self, response: &MessageBuf) -> Result<(), DownloadError> {
        let code = response.code;
        if code != msg::CONTENT {
            return Err(answer_error(code));
        }
        let block = match response_block(response, option::BLOCK2) {
            // A package short enough to come whole.
            None => Block {
                num: 0,
                more: false,
                szx: 6,
            },
            Some(Some(block)) => block,
            Some(None) => return Err(DownloadError::ConnectionLost),
        };
        let etag = response.values(option::ETAG).next().map(<[u8]>::to_vec);
        let Some(fw) = self.firmware.as_mut() else {
            return Ok(());
        };
        let Some(pull) = fw.pull.as_mut() else {
            return Ok(()); // a late answer after a Cancel
        };
        let offset = u64::try_from(block.offset()).unwrap_or(u64::MAX);
        // RFC 7959 §2.4: every block but the last fills its size; the blocks come in order,
        // and a changed ETag means another file.
        let full = !block.more || response.payload.len() == block.size();
        let same_file = !pull.opened || pull.etag == etag;
        if offset != fw.received || !full || !same_file {
            return Err(DownloadError::ConnectionLost);
        }
        if !pull.opened {
            pull.opened = true;
            pull.etag = etag;
            let size = response.uint(option::SIZE2).map(u64::from);
            fw.installer
                .open(size)
                .map_err(super::firmware_flow::download_error)?;
        }
        let len = response.payload.len();
        self.firmware_step(Input::PackageChunk { len }, &response.payload);
        if !self.firmware_downloading() {
            return Ok(()); // the installer refused the chunk: the result says why
        }
        if block.more {
            let next = Block {
                num: block.num.saturating_add(1),
                more: false,
                szx: block.szx,
            };
            self.ask_pull_block(next);
        } else {
            self.end_pull(None);
        }
        Ok(())
    }

    /// Ends the pull: the package complete (`None`), or failed with `error`.
    fn end_pull(&mut self, error: Option<DownloadError>) {
        if let Some(fw) = self.firmware.as_mut() {
            fw.pull = None;
        }
        self.cancel_exchanges(|p| *p == Purpose::FirmwarePull);
        if self.firmware_downloading() {
            let input = match error {
                None => Input::PackageComplete,
                Some(error) => Input::DownloadFailed(error),
            };
            self.firmware_step(input, &[]);
        }
        self.collect_peers();
    }

    /// Stops a pull (the download was discarded: Cancel, reset, a refused chunk).
    pub(super) fn stop_pull(&mut self) {
        let pulling = self
            .firmware
            .as_mut()
            .and_then(|fw| fw.pull.take())
            .is_some();
        if pulling {
            self.cancel_exchanges(|p| *p == Purpose::FirmwarePull);
            self.collect_peers();
        }
    }

    /// The peer a pull uses, kept while it runs.
    pub(super) fn pull_peer_in_use(&self) -> Option<PeerId> {
        self.firmware
            .as_ref()
            .and_then(|fw| fw.pull.as_ref())
            .map(|p| p.peer)
    }

    fn firmware_downloading(&self) -> bool {
        self.firmware
            .as_ref()
            .is_some_and(|fw| fw.machine.state() == State::Downloading)
    }

    /// The application's own download of a Package URI ended (`FirmwareInstaller::download`):
    /// `Ok` once the whole package is stored (the library then verifies it), or why not.
    pub fn firmware_downloaded(
        &mut self,
        now: u64,
        outcome: Result<(), DownloadFailure>,
    ) -> Result<(), FirmwareError> {
        let now = self.clock(now);
        let fw = self.firmware.as_mut().ok_or(FirmwareError::NotEnabled)?;
        if !fw.app_download {
            return Err(FirmwareError::OutOfSequence);
        }
        fw.app_download = false;
        let input = match outcome {
            Ok(()) => Input::PackageComplete,
            Err(e) => Input::DownloadFailed(super::firmware_flow::download_error(e)),
        };
        self.firmware_step(input, &[]);
        self.drive(now);
        Ok(())
    }
}

/// Why a firmware call of the application was refused. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FirmwareError {
    /// No `FirmwareInstaller` was set (`Client::set_firmware`).
    #[error("firmware update is not enabled")]
    NotEnabled,
    /// The state does not fit: no download of the application's runs, or no update waits
    /// for the user.
    #[error("the firmware update is not in a state that takes this")]
    OutOfSequence,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coap_package_uri_gives_its_server_path_and_query_decoded() {
        let (server, path, query) = coap_target("coap://fw.example:5700/a/b%20c?x=1&y").unwrap();
        assert_eq!((server.host.as_str(), server.port), ("fw.example", 5700));
        assert_eq!(path, ["a", "b c"]);
        assert_eq!(query, ["x=1", "y"]);
        let (server, path, query) = coap_target("coap://[::1]/").unwrap();
        assert_eq!((server.host.as_str(), server.port), ("::1", 5683));
        assert!(path.is_empty() && query.is_empty());
        let (_, path, _) = coap_target("coap://h/fw/").unwrap();
        assert_eq!(
            path,
            ["fw", ""],
            "a trailing slash is an empty segment (RFC 7252 §6.4)"
        );
        assert_eq!(coap_target("coap://h/%zz"), None);
        assert_eq!(coap_target("coap://h/%ff"), None, "not UTF-8");
        assert_eq!(coap_target("coaps://h/a"), None);
    }
}
