//! clkhash linkage schemas (v1–v3), as `veil link encode` and project creation read them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_linkage_encoding::Schema;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Schema::from_json_str(text);
    }
});
