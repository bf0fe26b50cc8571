//! CLK files the CLI reads (`{"clks": [...]}` documents) and binary uploads cut into encodings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_linkage_matching::{read_clk_document, ClkSet};

fuzz_target!(|data: &[u8]| {
    let _ = read_clk_document(data, None);
    if let Some((&size, rest)) = data.split_first() {
        let size = usize::from(size).max(1);
        if let Ok(set) = ClkSet::from_bytes(rest.chunks_exact(size)) {
            assert_eq!(set.len(), rest.len() / size);
        }
    }
});
