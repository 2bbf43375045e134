//! Server accounts as the Security (0) and Server (1) objects describe them (Core 1.1 §5.2.2):
//! an LwM2M Server account is a Security instance plus the Server instance with the same Short
//! Server ID; the Bootstrap-Server account is the Security instance with `/0/x/1 = true`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::model::oid;
use crate::path::Path;
use crate::peer::{PeerInfo, SecurityMode};
use crate::store::Store;
use crate::uri::ServerUri;
use crate::value::{ResourceValue, Resources, Value};
use crate::vec_map::VecMap;

/// Resource IDs of the Security object used by the core.
pub mod sec {
    /// Core 1.1 §E.1 resource 0, LwM2M Server URI (String).
    pub const URI: u16 = 0;
    /// Core 1.1 §E.1 resource 1, Bootstrap-Server (Boolean): true for the Bootstrap-Server
    /// account.
    pub const BOOTSTRAP: u16 = 1;
    /// Core 1.1 §E.1 resource 2, Security Mode (Integer, see [`SecurityMode`]).
    ///
    /// [`SecurityMode`]: crate::peer::SecurityMode
    pub const MODE: u16 = 2;
    /// Core 1.1 §E.1 resource 3, Public Key or Identity (Opaque).
    pub const IDENTITY: u16 = 3;
    /// Core 1.1 §E.1 resource 4, Server Public Key (Opaque).
    pub const SERVER_KEY: u16 = 4;
    /// Core 1.1 §E.1 resource 5, Secret Key (Opaque).
    pub const SECRET_KEY: u16 = 5;
    /// Core 1.1 §E.1 resource 10, Short Server ID (Integer) linking the account to a Server
    /// instance.
    pub const SSID: u16 = 10;
    /// Core 1.1 §E.1 resource 11, Client Hold Off Time (Integer, seconds) before the client
    /// starts a client-initiated bootstrap.
    pub const HOLD_OFF: u16 = 11;
    /// Core 1.1 §E.1 resource 12, Bootstrap-Server Account Timeout (Integer, seconds; 0 = the
    /// account is kept).
    pub const BS_ACCOUNT_TIMEOUT: u16 = 12;
}

/// Resource IDs of the Server object used by the core.
pub mod srv {
    /// Core 1.1 §E.2 resource 0, Short Server ID (Integer).
    pub const SSID: u16 = 0;
    /// Core 1.1 §E.2 resource 1, Lifetime (Integer, seconds) of the registration.
    pub const LIFETIME: u16 = 1;
    /// Core 1.1 §E.2 resource 2, Default Minimum Period (Integer, seconds): `pmin` where no
    /// Write-Attributes set one.
    pub const DEFAULT_PMIN: u16 = 2;
    /// Core 1.1 §E.2 resource 3, Default Maximum Period (Integer, seconds): `pmax` likewise.
    pub const DEFAULT_PMAX: u16 = 3;
    /// Core 1.1 §E.2 resource 4, Disable (Executable).
    pub const DISABLE: u16 = 4;
    /// Core 1.1 §E.2 resource 5, Disable Timeout (Integer, seconds).
    pub const DISABLE_TIMEOUT: u16 = 5;
    /// Core 1.1 §E.2 resource 7, Binding (String, e.g. `U` for UDP).
    pub const BINDING: u16 = 7;
    /// Core 1.1 §E.2 resource 8, Registration Update Trigger (Executable).
    pub const UPDATE_TRIGGER: u16 = 8;
    /// Core 1.1 §E.2 resource 9, Bootstrap-Request Trigger (Executable).
    pub const BOOTSTRAP_TRIGGER: u16 = 9;
    /// Core 1.1 §E.2 resource 12, Last Bootstrapped (Time).
    pub const LAST_BOOTSTRAPPED: u16 = 12;
}

/// One Security instance, read leniently (missing resources become defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityAccount {
    /// The Security instance ID.
    pub iid: u16,
    /// `/0/x/0`, the server URI as written (empty if missing).
    pub uri: String,
    /// `/0/x/1`: this is the Bootstrap-Server account (false if missing).
    pub bootstrap: bool,
    /// `/0/x/2`, the Security Mode number (-1 if missing; see [`SecurityMode::from_i64`]).
    pub mode: i64,
    /// `/0/x/10`, the Short Server ID; `None` if missing or outside 1..=65534 (Core 1.1 §E.1:
    /// 0 and 65535 are not valid).
    pub ssid: Option<u16>,
    /// `/0/x/11`, Client Hold Off Time in seconds (0 if missing, never negative).
    pub hold_off_s: i64,
    /// `/0/x/12`, Bootstrap-Server Account Timeout in seconds (0 if missing, never negative).
    pub account_timeout_s: i64,
    /// `/0/x/3`, Public Key or Identity (empty if missing).
    pub identity: Vec<u8>,
    /// `/0/x/4`, Server Public Key (empty if missing).
    pub server_key: Vec<u8>,
    /// `/0/x/5`, Secret Key (empty if missing).
    pub secret_key: Vec<u8>,
}

impl SecurityAccount {
    /// The transport description, or `None` if the URI or mode is unusable.
    pub fn peer_info(&self) -> Option<PeerInfo> {
        self.transport().peer_info()
    }

    /// What makes its peer, borrowed.
    pub(crate) fn transport(&self) -> Transport<'_> {
        Transport {
            uri: &self.uri,
            mode: self.mode,
            identity: &self.identity,
            server_key: &self.server_key,
            secret_key: &self.secret_key,
            bootstrap: self.bootstrap,
        }
    }
}

/// What makes the peer of an account, borrowed from its Security instance: the URI as
/// written, the mode, the keys and the Bootstrap-Server flag (Core 1.1 §5.2.5: a changed URI
/// or key is a new peer). Finding the peer an account already has needs no copy of any of it.
#[derive(Clone, Copy)]
pub(crate) struct Transport<'a> {
    uri: &'a str,
    mode: i64,
    identity: &'a [u8],
    server_key: &'a [u8],
    secret_key: &'a [u8],
    bootstrap: bool,
}

impl Transport<'_> {
    /// The transport description, or `None` if the URI or mode is unusable.
    pub(crate) fn peer_info(self) -> Option<PeerInfo> {
        Some(PeerInfo {
            uri: ServerUri::parse(self.uri).ok()?,
            security_mode: SecurityMode::from_i64(self.mode)?,
            public_key_or_identity: self.identity.to_vec(),
            server_public_key: self.server_key.to_vec(),
            secret_key: self.secret_key.to_vec(),
            bootstrap: self.bootstrap,
            uri_text: self.uri.to_string(),
        })
    }

    /// Whether `info` is what `peer_info` would build, without building it. The URI is
    /// compared as written: every `PeerInfo` the client holds has `uri` parsed from
    /// `uri_text` (`client::peers::peer_for` checks it in debug builds), so equal texts mean
    /// equal parsed URIs, and one that parsed once parses again. A mode outside 0..=4 equals
    /// no `SecurityMode`.
    pub(crate) fn is(self, info: &PeerInfo) -> bool {
        info.uri_text == self.uri
            && info.security_mode.as_i64() == self.mode
            && info.bootstrap == self.bootstrap
            && info.public_key_or_identity == self.identity
            && info.server_public_key == self.server_key
            && info.secret_key == self.secret_key
    }
}

/// A Security instance read in place: each resource is looked up when asked and nothing is
/// copied, with the defaults of [`SecurityAccount`]. For callers that need a few resources or
/// compare the account with a peer (issue 15: copying whole accounts for that was a tenth of
/// a bootstrap+register).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Security<'a> {
    /// The Security instance ID.
    pub(crate) iid: u16,
    res: &'a Resources,
}

impl<'a> Security<'a> {
    /// The instance's resources as stored.
    pub(crate) fn resources(self) -> &'a Resources {
        self.res
    }
    /// `/0/x/0` as written (empty if missing).
    pub(crate) fn uri(self) -> &'a str {
        text(single(self.res, sec::URI))
    }
    /// `/0/x/1`: this is the Bootstrap-Server account (false if missing).
    pub(crate) fn is_bootstrap(self) -> bool {
        is_bootstrap(self.res)
    }
    /// `/0/x/2`, the Security Mode number (-1 if missing).
    pub(crate) fn mode(self) -> i64 {
        mode_number(single(self.res, sec::MODE))
    }
    /// `/0/x/10`, the Short Server ID if it is a valid one.
    pub(crate) fn ssid(self) -> Option<u16> {
        ssid_of(int(self.res, sec::SSID))
    }
    /// `/0/x/11`, Client Hold Off Time in seconds (0 if missing, never negative).
    pub(crate) fn hold_off_s(self) -> i64 {
        int(self.res, sec::HOLD_OFF).unwrap_or(0).max(0)
    }
    /// `/0/x/12`, Bootstrap-Server Account Timeout in seconds (0 if missing, never negative).
    pub(crate) fn account_timeout_s(self) -> i64 {
        int(self.res, sec::BS_ACCOUNT_TIMEOUT).unwrap_or(0).max(0)
    }
    /// What makes its peer.
    pub(crate) fn transport(self) -> Transport<'a> {
        // Resources 0 to 5 are the first entries of the sorted map: one walk reads them,
        // where six look-ups cost four times as much (issue 15: asked on every bootstrap
        // step).
        let mut values = [None; 6];
        for (rid, r) in self.res.range(..=sec::SECRET_KEY) {
            if let Some(slot) = values.get_mut(usize::from(*rid)) {
                *slot = r.single();
            }
        }
        let [uri, bootstrap, mode, identity, server_key, secret_key] = values;
        Transport {
            uri: text(uri),
            mode: mode_number(mode),
            identity: opaque(identity),
            server_key: opaque(server_key),
            secret_key: opaque(secret_key),
            bootstrap: is_true(bootstrap),
        }
    }
    /// The whole account, copied.
    pub(crate) fn account(self) -> SecurityAccount {
        let t = self.transport();
        SecurityAccount {
            iid: self.iid,
            uri: t.uri.to_string(),
            bootstrap: t.bootstrap,
            mode: t.mode,
            ssid: self.ssid(),
            hold_off_s: self.hold_off_s(),
            account_timeout_s: self.account_timeout_s(),
            identity: t.identity.to_vec(),
            server_key: t.server_key.to_vec(),
            secret_key: t.secret_key.to_vec(),
        }
    }
}

/// An LwM2M Server account: Security + Server instances sharing a Short Server ID.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerAccount {
    /// The Short Server ID shared by both instances (1..=65534).
    pub ssid: u16,
    /// The Server instance ID.
    pub server_iid: u16,
    /// The matching Security instance.
    pub security: SecurityAccount,
    /// `/1/x/1`, registration Lifetime in seconds (86400 if missing).
    pub lifetime_s: i64,
    /// `/1/x/7`, the Binding string (`U` if missing).
    pub binding: String,
    /// `/1/x/5`, Disable Timeout in seconds (86400 if missing, XML /1/x/5).
    pub disable_timeout_s: u64,
    /// The LwM2M 1.1 registration procedure resources, as written (`None`: absent).
    pub procedure: RegistrationProcedure,
}

/// The registration procedure resources of a Server instance (LwM2M 1.1, `/1/x/13` to
/// `/1/x/20`), as written; `None` where the resource is absent (Core 1.1 §6.2.1.1, the
/// `1-1_2.xml` descriptions; FACTS §1.10 lists the defaults for absent ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistrationProcedure {
    /// 13, Registration Priority Order: registrations in increasing order of it.
    pub priority: Option<u64>,
    /// 14, Initial Registration Delay Timer (s).
    pub initial_delay_s: Option<u64>,
    /// 15, Registration Failure Block.
    pub failure_block: Option<bool>,
    /// 16, Bootstrap on Registration Failure.
    pub bootstrap_on_failure: Option<bool>,
    /// 17, Communication Retry Count.
    pub retry_count: Option<u64>,
    /// 18, Communication Retry Timer (s).
    pub retry_timer_s: Option<u64>,
    /// 19, Communication Sequence Delay Timer (s).
    pub sequence_delay_s: Option<u64>,
    /// 20, Communication Sequence Retry Count.
    pub sequence_retry_count: Option<u64>,
}

impl RegistrationProcedure {
    fn read(res: &Resources) -> RegistrationProcedure {
        let uint = |rid| uint(res, rid);
        let boolean = |rid: u16| res.get(&rid)?.single()?.as_bool();
        RegistrationProcedure {
            priority: uint(13),
            initial_delay_s: uint(14),
            failure_block: boolean(15),
            bootstrap_on_failure: boolean(16),
            retry_count: uint(17),
            retry_timer_s: uint(18),
            sequence_delay_s: uint(19),
            sequence_retry_count: uint(20),
        }
    }
}

/// An Integer or Unsigned Integer resource that is not negative.
fn uint(res: &Resources, rid: u16) -> Option<u64> {
    match single(res, rid)? {
        Value::Unsigned(v) => Some(*v),
        other => other.as_i64().and_then(|v| u64::try_from(v).ok()),
    }
}

/// The value of single-instance resource `rid`.
fn single(res: &Resources, rid: u16) -> Option<&Value> {
    res.get(&rid)?.single()
}

fn int(res: &Resources, rid: u16) -> Option<i64> {
    single(res, rid)?.as_i64()
}

fn string(res: &Resources, rid: u16) -> Option<String> {
    single(res, rid)?.as_str().map(ToString::to_string)
}

// How a Security instance's resources read, missing or of another type (the defaults of
// `SecurityAccount`), whether looked up one by one or read in one walk.

/// A String (`/0/x/0`); empty otherwise.
fn text(v: Option<&Value>) -> &str {
    v.and_then(Value::as_str).unwrap_or_default()
}

/// An Opaque (`/0/x/3` to `/0/x/5`); empty otherwise.
fn opaque(v: Option<&Value>) -> &[u8] {
    v.and_then(Value::as_bytes).unwrap_or_default()
}

/// A Boolean that is true (`/0/x/1`).
fn is_true(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool) == Some(true)
}

/// The Security Mode number (`/0/x/2`); -1 otherwise.
fn mode_number(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_i64).unwrap_or(-1)
}

/// A Short Server ID read from `/0/x/10` or `/1/x/0`, if valid.
pub(crate) fn ssid_of(v: Option<i64>) -> Option<u16> {
    // Core 1.1 §E.1: 0 and 65535 MUST NOT be used as Short Server IDs.
    v.and_then(|v| u16::try_from(v).ok())
        .filter(|v| (1..=65534).contains(v))
}

/// Every Security instance, read in place, by instance ID.
pub(crate) fn securities(store: &Store) -> impl Iterator<Item = Security<'_>> {
    store
        .instances(oid::SECURITY)
        .into_iter()
        .flatten()
        .map(|(iid, res)| Security { iid: *iid, res })
}

/// Security instance `iid`, read in place.
pub(crate) fn security(store: &Store, iid: u16) -> Option<Security<'_>> {
    let res = store.instances(oid::SECURITY)?.get(&iid)?;
    Some(Security { iid, res })
}

/// Every Security instance.
pub fn security_accounts(store: &Store) -> Vec<SecurityAccount> {
    securities(store).map(Security::account).collect()
}

/// Whether a Security instance is the Bootstrap-Server's (`/0/x/1` true).
fn is_bootstrap(res: &Resources) -> bool {
    is_true(single(res, sec::BOOTSTRAP))
}

/// The Bootstrap-Server's Security instance, read in place (the first, if several — Finish
/// refuses configurations with more than one). Asked on every bootstrap step (issue 15).
pub(crate) fn bootstrap_security(store: &Store) -> Option<Security<'_>> {
    securities(store).find(|s| s.is_bootstrap())
}

/// The Bootstrap-Server account, if the device has one (the first, if several — Finish refuses
/// configurations with more than one).
pub fn bootstrap_account(store: &Store) -> Option<SecurityAccount> {
    bootstrap_security(store).map(Security::account)
}

/// The Security instance an LwM2M Server account `ssid` pairs with: the first that is not the
/// Bootstrap-Server's and holds `ssid`.
fn paired_security(store: &Store, ssid: u16) -> Option<Security<'_>> {
    securities(store).find(|s| !s.is_bootstrap() && s.ssid() == Some(ssid))
}

/// Every complete LwM2M Server account, ordered by Short Server ID. Each reads only the
/// Security instance it pairs with.
pub fn server_accounts(store: &Store) -> Vec<ServerAccount> {
    let mut out: Vec<ServerAccount> = accounts_in_instance_order(store).collect();
    out.sort_by_key(|a| a.ssid);
    out
}

/// The same by Short Server ID, one account each: for an ID given twice, the account of the
/// later Server instance (as collecting `server_accounts` into a map keeps it). Made in place:
/// no list of accounts first (issue 15: an account is some 300 bytes).
pub(crate) fn server_accounts_by_ssid(store: &Store) -> VecMap<u16, ServerAccount> {
    let mut out = VecMap::with_capacity(store.instances(oid::SERVER).map_or(0, |s| s.len()));
    for account in accounts_in_instance_order(store) {
        out.insert(account.ssid, account);
    }
    out
}

/// Every complete LwM2M Server account, in the order of the Server instances.
fn accounts_in_instance_order(store: &Store) -> impl Iterator<Item = ServerAccount> + '_ {
    let servers = store.instances(oid::SERVER).into_iter().flatten();
    servers.filter_map(|(iid, res)| {
        let ssid = ssid_of(int(res, srv::SSID))?;
        let security = paired_security(store, ssid)?;
        Some(ServerAccount {
            ssid,
            server_iid: *iid,
            security: security.account(),
            lifetime_s: int(res, srv::LIFETIME).unwrap_or(86400),
            binding: string(res, srv::BINDING).unwrap_or_else(|| "U".to_string()),
            disable_timeout_s: uint(res, srv::DISABLE_TIMEOUT).unwrap_or(86400),
            procedure: RegistrationProcedure::read(res),
        })
    })
}

/// The Short Server IDs of every complete LwM2M Server account (those `server_accounts`
/// returns), without copying the accounts: asked on every DM request (`access`).
pub(crate) fn server_ssids(store: &Store) -> alloc::collections::BTreeSet<u16> {
    let dm_ssids: alloc::collections::BTreeSet<u16> = securities(store)
        .filter(|s| !s.is_bootstrap())
        .filter_map(Security::ssid)
        .collect();
    store
        .instances(oid::SERVER)
        .into_iter()
        .flatten()
        .filter_map(|(_, res)| ssid_of(int(res, srv::SSID)))
        .filter(|ssid| dm_ssids.contains(ssid))
        .collect()
}

/// The Server instance holding `ssid`.
pub fn server_instance_of(store: &Store, ssid: u16) -> Option<u16> {
    store
        .instances(oid::SERVER)?
        .iter()
        .find_map(|(iid, res)| (ssid_of(int(res, srv::SSID)) == Some(ssid)).then_some(*iid))
}

/// Factory provisioning helpers: what a device maker writes into flash before shipping.
pub mod factory {
    use super::*;
    use crate::store::StoreError;

    fn put(res: &mut Resources, rid: u16, v: Value) {
        res.insert(rid, ResourceValue::Single(v));
    }

    fn security_resources(uri: &str, bootstrap: bool) -> Resources {
        let mut r = Resources::new();
        put(&mut r, sec::URI, Value::String(uri.to_string()));
        put(&mut r, sec::BOOTSTRAP, Value::Boolean(bootstrap));
        put(
            &mut r,
            sec::MODE,
            Value::Integer(SecurityMode::NoSec.as_i64()),
        );
        put(&mut r, sec::IDENTITY, Value::Opaque(Vec::new()));
        put(&mut r, sec::SERVER_KEY, Value::Opaque(Vec::new()));
        put(&mut r, sec::SECRET_KEY, Value::Opaque(Vec::new()));
        r
    }

    /// Adds a NoSec Bootstrap-Server account (the factory state of a device that bootstraps).
    pub fn add_bootstrap_account(
        store: &mut Store,
        uri: &str,
        hold_off_s: i64,
    ) -> Result<u16, StoreError> {
        let iid = store
            .free_instance_id(oid::SECURITY)
            .ok_or(StoreError::UnknownObject(oid::SECURITY))?;
        let mut r = security_resources(uri, true);
        put(&mut r, sec::HOLD_OFF, Value::Integer(hold_off_s));
        store.create_instance(oid::SECURITY, iid, r)?;
        Ok(iid)
    }

    /// Adds a NoSec LwM2M Server account: a Security and a Server instance sharing `ssid`.
    pub fn add_server_account(
        store: &mut Store,
        ssid: u16,
        uri: &str,
        lifetime_s: i64,
    ) -> Result<(), StoreError> {
        let sec_iid = store
            .free_instance_id(oid::SECURITY)
            .ok_or(StoreError::UnknownObject(oid::SECURITY))?;
        let mut r = security_resources(uri, false);
        put(&mut r, sec::SSID, Value::Integer(i64::from(ssid)));
        store.create_instance(oid::SECURITY, sec_iid, r)?;
        let srv_iid = store
            .free_instance_id(oid::SERVER)
            .ok_or(StoreError::UnknownObject(oid::SERVER))?;
        let mut s = Resources::new();
        put(&mut s, srv::SSID, Value::Integer(i64::from(ssid)));
        put(&mut s, srv::LIFETIME, Value::Integer(lifetime_s));
        put(&mut s, 6, Value::Boolean(true));
        put(&mut s, srv::BINDING, Value::String("U".to_string()));
        store.create_instance(oid::SERVER, srv_iid, s)?;
        Ok(())
    }

    /// Turns the account of Security instance `security_iid` into a Pre-Shared Key one
    /// (Security Mode 0): `/0/x/3` the PSK identity, `/0/x/5` the key (Core 1.1 Appendix E.1).
    /// Its URI should be `coaps://` for the UDP adapter to run DTLS with these keys.
    pub fn set_psk(
        store: &mut Store,
        security_iid: u16,
        identity: &[u8],
        key: &[u8],
    ) -> Result<(), StoreError> {
        let base = |rid| Path::resource(oid::SECURITY, security_iid, rid);
        store.set(
            &base(sec::MODE),
            Value::Integer(SecurityMode::PreSharedKey.as_i64()),
        )?;
        store.set(&base(sec::IDENTITY), Value::Opaque(identity.to_vec()))?;
        store.set(&base(sec::SECRET_KEY), Value::Opaque(key.to_vec()))?;
        Ok(())
    }

    /// Turns the account of Security instance `security_iid` into a Certificate one (Security
    /// Mode 2, Core 1.1 Appendix E.1.1): `/0/x/3` the client's certificate (DER X.509v3),
    /// `/0/x/4` the server's certificate (DER; the built-in DTLS accepts exactly that one),
    /// `/0/x/5` the client's private key (DER, PKCS #8). Use a `coaps://` URI.
    pub fn set_certificate(
        store: &mut Store,
        security_iid: u16,
        client_cert: &[u8],
        server_cert: &[u8],
        private_key: &[u8],
    ) -> Result<(), StoreError> {
        let base = |rid| Path::resource(oid::SECURITY, security_iid, rid);
        store.set(
            &base(sec::MODE),
            Value::Integer(SecurityMode::Certificate.as_i64()),
        )?;
        store.set(&base(sec::IDENTITY), Value::Opaque(client_cert.to_vec()))?;
        store.set(&base(sec::SERVER_KEY), Value::Opaque(server_cert.to_vec()))?;
        store.set(&base(sec::SECRET_KEY), Value::Opaque(private_key.to_vec()))?;
        Ok(())
    }

    /// The Security instance of the LwM2M Server account `ssid`, if there is one.
    pub fn security_instance_of(store: &Store, ssid: u16) -> Option<u16> {
        paired_security(store, ssid).map(|s| s.iid)
    }

    /// The mandatory Device resources with placeholder values; applications overwrite them.
    pub fn add_device(
        store: &mut Store,
        manufacturer: &str,
        model: &str,
        serial: &str,
    ) -> Result<(), StoreError> {
        store.set(
            &Path::resource(3, 0, 0),
            Value::String(manufacturer.to_string()),
        )?;
        store.set(&Path::resource(3, 0, 1), Value::String(model.to_string()))?;
        store.set(&Path::resource(3, 0, 2), Value::String(serial.to_string()))?;
        store.set(&Path::resource_instance(3, 0, 11, 0), Value::Integer(0))?;
        store.set(&Path::resource(3, 0, 16), Value::String("U".to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_pair_security_and_server_by_ssid() {
        let mut s = Store::with_standard_objects();
        factory::add_bootstrap_account(&mut s, "coap://127.0.0.1:5783", 3).unwrap();
        factory::add_server_account(&mut s, 123, "coap://127.0.0.1:5683", 300).unwrap();
        let bs = bootstrap_account(&s).unwrap();
        assert_eq!((bs.iid, bs.hold_off_s, bs.ssid), (0, 3, None));
        let accts = server_accounts(&s);
        assert_eq!(accts.len(), 1);
        assert_eq!(
            (
                accts[0].ssid,
                accts[0].security.iid,
                accts[0].server_iid,
                accts[0].lifetime_s
            ),
            (123, 1, 0, 300)
        );
        assert_eq!(accts[0].security.peer_info().unwrap().uri.port, 5683);
        // A Server instance without a matching Security instance is not an account.
        s.set(&Path::resource(1, 5, 0), Value::Integer(7)).unwrap();
        assert_eq!(server_accounts(&s).len(), 1);
        assert_eq!(server_instance_of(&s, 7), Some(5));
    }

    /// By Short Server ID: one account each, the later Server instance's for an ID given
    /// twice, as collecting `server_accounts` into a map keeps it.
    #[test]
    fn accounts_by_ssid_keep_the_later_instance_of_an_ssid_given_twice() {
        let mut s = Store::with_standard_objects();
        factory::add_server_account(&mut s, 9, "coap://127.0.0.1:5690", 60).unwrap();
        factory::add_server_account(&mut s, 4, "coap://127.0.0.1:5640", 40).unwrap();
        // Server instance 2 claims SSID 9 again, with another lifetime.
        s.set(&Path::resource(1, 2, 0), Value::Integer(9)).unwrap();
        s.set(&Path::resource(1, 2, 1), Value::Integer(90)).unwrap();
        let by_ssid = server_accounts_by_ssid(&s);
        let seen: Vec<(u16, u16, i64)> = by_ssid
            .iter()
            .map(|(ssid, a)| (*ssid, a.server_iid, a.lifetime_s))
            .collect();
        assert_eq!(seen, [(4, 1, 40), (9, 2, 90)]);
        let collected: VecMap<u16, ServerAccount> = server_accounts(&s)
            .into_iter()
            .map(|a| (a.ssid, a))
            .collect();
        assert_eq!(
            collected
                .iter()
                .map(|(k, a)| (*k, a.server_iid))
                .collect::<Vec<_>>(),
            [(4, 1), (9, 2)]
        );
        assert!(server_accounts_by_ssid(&Store::with_standard_objects()).is_empty());
    }

    /// `Security::transport` reads resources 0 to 5 in one walk; it finds what looking each
    /// up finds, whichever of them are missing, multiple-instance or of another type (every
    /// combination), with resources after them in the map.
    #[test]
    fn transport_walk_reads_what_look_ups_read() {
        let variants = |rid: u16| -> [Option<ResourceValue>; 4] {
            let good = match rid {
                sec::URI => Value::String("coap://h".to_string()),
                sec::BOOTSTRAP => Value::Boolean(true),
                sec::MODE => Value::Integer(1),
                _ => Value::Opaque(alloc::vec![0; usize::from(rid)]),
            };
            let multiple = ResourceValue::Multiple([(0, good.clone())].into_iter().collect());
            [
                None,
                Some(ResourceValue::Single(good)),
                Some(ResourceValue::Single(Value::Float(0.5))),
                Some(multiple),
            ]
        };
        for n in 0..4usize.pow(6) {
            let mut res = Resources::new();
            for rid in 0..6u16 {
                let choice = n / 4usize.pow(u32::from(rid)) % 4;
                if let Some(v) = variants(rid)[choice].clone() {
                    res.insert(rid, v);
                }
            }
            res.insert(sec::SSID, ResourceValue::Single(Value::Integer(4)));
            let account = Security { iid: 0, res: &res };
            let t = account.transport();
            let walked = (
                t.uri,
                t.mode,
                t.bootstrap,
                t.identity,
                t.server_key,
                t.secret_key,
            );
            let looked_up = (
                account.uri(),
                account.mode(),
                account.is_bootstrap(),
                opaque(single(&res, sec::IDENTITY)),
                opaque(single(&res, sec::SERVER_KEY)),
                opaque(single(&res, sec::SECRET_KEY)),
            );
            assert_eq!(walked, looked_up, "{res:?}");
        }
    }

    /// `Transport::is` answers what comparing with a freshly built `peer_info` answered, for
    /// every field a peer differs by, and for accounts that have no peer at all.
    #[test]
    fn transport_is_what_peer_info_equality_was() {
        let base = SecurityAccount {
            iid: 0,
            uri: "coaps://h:5684".to_string(),
            bootstrap: false,
            mode: 0,
            ssid: Some(1),
            hold_off_s: 0,
            account_timeout_s: 0,
            identity: b"id".to_vec(),
            server_key: b"sk".to_vec(),
            secret_key: b"psk".to_vec(),
        };
        let variants = [
            base.clone(),
            SecurityAccount {
                uri: "COAPS://h:5684".to_string(),
                ..base.clone()
            },
            SecurityAccount {
                uri: "coaps://h".to_string(),
                ..base.clone()
            },
            SecurityAccount {
                uri: "not a uri".to_string(),
                ..base.clone()
            },
            SecurityAccount {
                bootstrap: true,
                ..base.clone()
            },
            SecurityAccount {
                mode: 3,
                ..base.clone()
            },
            SecurityAccount {
                mode: 9,
                ..base.clone()
            },
            SecurityAccount {
                identity: b"other".to_vec(),
                ..base.clone()
            },
            SecurityAccount {
                server_key: Vec::new(),
                ..base.clone()
            },
            SecurityAccount {
                secret_key: b"x".to_vec(),
                ..base.clone()
            },
        ];
        let infos: Vec<PeerInfo> = variants.iter().filter_map(|a| a.peer_info()).collect();
        assert_eq!(infos.len(), variants.len() - 2);
        for a in &variants {
            for info in &infos {
                let was = a.peer_info().as_ref() == Some(info);
                assert_eq!(a.transport().is(info), was, "{a:?} vs {info:?}");
            }
        }
    }
}
