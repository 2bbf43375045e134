//! A Bootstrap-Server plan the device must refuse at Finish, and what the device says then:
//! the account it writes is switched to PSK (Security Mode 0) with empty keys. Used by the
//! tests that check each device prints a refused Bootstrap-Finish by default.
#![allow(dead_code)]

use lwm2mc::testkit::BootstrapConfig;

/// The plan: an account on the LwM2M Server at `dm_uri`, then `/0/1/2` (mode) = 0.
pub fn refused_plan(dm_uri: &str) -> BootstrapConfig {
    BootstrapConfig::new()
        .delete("/")
        .server_account(1, dm_uri, 60)
        .write("/0/1/2", 0, b"0".to_vec())
        .finish()
}

/// The 4.06 diagnostic the device sends back and reports.
pub const DIAGNOSTIC: &str = "/0/1/3 is empty, but Security Mode 0 needs it; \
                              /0/1/5 is empty, but Security Mode 0 needs it";
