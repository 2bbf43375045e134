//! Security credentials of the factory accounts from C: a Pre-Shared Key (Security Mode 0)
//! for the Bootstrap-Server account or an LwM2M Server account of the configuration.

use super::config::{lwm2mc_config, store_error, with_config};
use super::guard::as_bytes;
use super::result::lwm2mc_result;
use crate::accounts::{self, factory};

/// Longest PSK identity or key taken: RFC 4279 §5.1 and §5.3 (a 16-bit length). The built-in
/// DTLS accepts less (identity up to 128 bytes, key up to 256, LwM2M Core 1.1 Appendix E.1.1)
/// and reports a longer one as `SECURE_SESSION_FAILED` without sending anything; a host DTLS
/// stack (the transport hook) may take more.
const MAX_PSK_LEN: usize = u16::MAX as usize;

/// Factory state: makes an account of the config a PSK one (LwM2M Security Mode 0): Security
/// Mode `/0/x/2` = 0, PSK Identity `/0/x/3` = `identity`, Secret Key `/0/x/5` = `key`.
/// `short_server_id` 0 names the Bootstrap-Server account (0 is no Server's ID, Core 1.1
/// §E.2), 1..65534 the LwM2M Server account with that Short Server ID; the account must have
/// been added first (else NOT_FOUND). Use it with a `coaps://` URI: the built-in UDP
/// transport then runs DTLS 1.2 with these keys. An empty identity or key, or one longer than
/// 65535 bytes, is INVALID_ARGUMENT. The key is never logged. A refused call leaves the config
/// unchanged.
///
/// # Safety
/// `config` must be NULL or a valid config; `identity` and `key` readable for their lengths.
#[no_mangle]
pub unsafe extern "C" fn lwm2mc_config_set_psk(
    config: *mut lwm2mc_config,
    short_server_id: u16,
    identity: *const u8,
    identity_len: usize,
    key: *const u8,
    key_len: usize,
) -> lwm2mc_result {
    with_config(config, |c| {
        // SAFETY: per this function's contract.
        let (identity, key) =
            unsafe { (as_bytes(identity, identity_len)?, as_bytes(key, key_len)?) };
        let fits = |b: &[u8]| !b.is_empty() && b.len() <= MAX_PSK_LEN;
        if !fits(identity) || !fits(key) || short_server_id == u16::MAX {
            return Err(lwm2mc_result::InvalidArgument);
        }
        let iid = if short_server_id == 0 {
            accounts::bootstrap_account(&c.store).map(|a| a.iid)
        } else {
            factory::security_instance_of(&c.store, short_server_id)
        }
        .ok_or(lwm2mc_result::NotFound)?;
        let mut staged = c.store.clone();
        factory::set_psk(&mut staged, iid, identity, key).map_err(store_error)?;
        c.store = staged;
        Ok(())
    })
}
