//! LwM2M 1.1 Send (Core 1.1 §6.4.1 "Send Operation"; Transport 1.1 §6.4: `POST /dp` with a
//! SenML pack): values the application chooses, pushed to a registered server without a
//! request, unless the server muted it (`/1/x/23` Mute Send).

use super::*;
use crate::data_model::DataModel;

/// Why `Client::send` sent nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Send is a LwM2M 1.1 operation; this client speaks 1.0.
    #[error("Send needs LwM2M 1.1")]
    Version,
    /// No registration with this server.
    #[error("not registered with server {0}")]
    NotRegistered(u16),
    /// `/1/x/23` Mute Send of this server is true (Core 1.1 §E.2).
    #[error("server {0} muted Send (/1/x/23)")]
    Muted(u16),
    /// No path was given.
    #[error("nothing to send")]
    Empty,
    /// A path cannot be read: it does not exist, is not readable, or is a Security object.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The path that could not be read.
        path: Path,
        /// Why: the CoAP code a Read of it gets, and its diagnostic.
        reason: String,
    },
    /// The pack exceeds `Limits::max_response_payload` (one datagram; no block-wise yet).
    #[error("the pack ({0} bytes) exceeds the payload limit")]
    TooLarge(usize),
}

impl Client {
    /// Sends the current values at `paths` to server `ssid` as one SenML pack (SenML CBOR when
    /// the configured preferred format is SenML CBOR, else SenML JSON), confirmable. Its answer
    /// comes as `Event::SendCompleted` or `Event::SendRejected`. Nothing is sent on error.
    pub fn send(&mut self, now: u64, ssid: u16, paths: &[Path]) -> Result<(), SendError> {
        let now = self.clock(now);
        if self.config.version == crate::config::Version::V1_0 {
            return Err(SendError::Version);
        }
        let peer = self
            .regs
            .registered_peer(ssid)
            .ok_or(SendError::NotRegistered(ssid))?;
        if self.send_muted(ssid) {
            return Err(SendError::Muted(ssid));
        }
        if paths.is_empty() {
            return Err(SendError::Empty);
        }
        let mut items = Vec::with_capacity(paths.len());
        let mut model = DataModel::new(&mut self.store, &mut self.handlers);
        for path in paths {
            let unreadable = |reason: String| SendError::Unreadable {
                path: *path,
                reason,
            };
            if matches!(
                path.object_id(),
                None | Some(crate::model::oid::SECURITY) | Some(crate::model::oid::OSCORE)
            ) {
                return Err(unreadable("not a readable object".into()));
            }
            match dm::read_values(&mut model, path) {
                Ok((content, _)) => items.push((*path, content)),
                Err(reply) => {
                    let reason = String::from_utf8_lossy(&reply.payload).into_owned();
                    return Err(unreadable(format!(
                        "{} {reason}",
                        msg::code_string(reply.code)
                    )));
                }
            }
        }
        let _ = model.end(); // reading changes nothing
        let format = match self.config.preferred_format {
            Some(crate::codec::ContentFormat::SenmlCbor) => crate::codec::ContentFormat::SenmlCbor,
            _ => crate::codec::ContentFormat::SenmlJson,
        };
        let payload =
            crate::codec::encode_composite(format, &items).map_err(|e| SendError::Unreadable {
                path: items.first().map_or(Path::ROOT, |(p, _)| *p),
                reason: e.to_string(),
            })?;
        if payload.len() > self.config.limits.max_response_payload {
            return Err(SendError::TooLarge(payload.len()));
        }
        let mut packet = MessageBuf::request(msg::POST, &["dp"], &[]);
        packet.add_uint(option::CONTENT_FORMAT, u32::from(format.code()));
        packet.payload = payload;
        // Queue mode: asleep, the Send waits for the Update that wakes the client.
        if self.held_for_wake_up(ssid) {
            self.hold_send(ssid, packet);
            self.drive(now);
            return Ok(());
        }
        self.request(now, peer, packet, Purpose::Send(ssid));
        Ok(())
    }

    /// Whether server `ssid` set its Mute Send (`/1/x/23`).
    fn send_muted(&self, ssid: u16) -> bool {
        accounts::server_accounts(&self.store)
            .into_iter()
            .find(|a| a.ssid == ssid)
            .and_then(|a| {
                let mute = Path::resource(crate::model::oid::SERVER, a.server_iid, 23);
                self.store.value(&mute).cloned()
            })
            == Some(Value::Boolean(true))
    }

    /// The answer to a Send: 2.04 Changed is success (Core 1.1 §6.4.1).
    pub(super) fn send_answered(&mut self, ssid: u16, code: u8) {
        if code == msg::CHANGED {
            self.emit(Event::SendCompleted { ssid });
        } else {
            self.emit(Event::SendRejected {
                ssid,
                reason: format!("answered {}", msg::code_string(code)),
            });
        }
    }
}
