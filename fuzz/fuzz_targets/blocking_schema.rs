//! Blocking schemas (blocklib's format), as `veil link block` reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_linkage_blocking::BlockingSchema;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = BlockingSchema::from_json_str(text);
    }
});
