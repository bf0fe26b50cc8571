//! Sealed model and report files, as `veil_seal::open` reads them: arbitrary bytes must give an
//! error, never a panic, and never open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_seal::{open, KeyRing, RootKey};

fuzz_target!(|data: &[u8]| {
    let ring = KeyRing::new(RootKey::from_bytes([0x5e; 32]));
    // Without the key, forging an envelope that authenticates is infeasible.
    assert!(open(data, &ring, "model").is_err());
});
