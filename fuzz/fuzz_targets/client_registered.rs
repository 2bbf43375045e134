#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lwm2mc_fuzz::client::run_registered(data));
