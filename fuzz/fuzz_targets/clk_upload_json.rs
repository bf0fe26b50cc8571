//! `POST /projects/{id}/clks` bodies: all three JSON shapes, for projects with and without blocking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_entity_service::upload;

fuzz_target!(|body: &[u8]| {
    for uses_blocking in [false, true] {
        if let Ok(valid) = upload::parse(body, uses_blocking) {
            assert_eq!(
                valid.encodings.len() as u64,
                (valid.parsed.count * valid.parsed.size) as u64,
                "the decoded encodings are count × size bytes"
            );
        }
    }
});
