//! Task messages as they arrive from a queue: a `QueueItem` that parses must survive a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_domain::QueueItem;

fuzz_target!(|data: &[u8]| {
    if let Ok(item) = serde_json::from_slice::<QueueItem>(data) {
        let again = serde_json::to_vec(&item).expect("a parsed item serialises");
        let back: QueueItem = serde_json::from_slice(&again).expect("and parses back");
        assert_eq!(back, item);
    }
});
