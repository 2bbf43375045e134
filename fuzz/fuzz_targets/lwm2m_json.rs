#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lwm2mc_fuzz::codecs::lwm2m_json(data));
