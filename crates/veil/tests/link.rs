//! `veil link …` driven through the real binary: golden outputs against clkhash 0.18.3 and
//! anonlink 0.15.3 (the linkage crates' fixtures), error reporting, determinism.

mod common;

#[path = "link/support.rs"]
mod support;

#[path = "link/encode.rs"]
mod encode;

#[path = "link/compare.rs"]
mod compare;

#[path = "link/block_gen.rs"]
mod block_gen;
