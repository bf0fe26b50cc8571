//! Criterion benches: kernel variants, and FEBRL4 5k x 5k all-pairs at threshold 0.8.

use std::fs::File;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use veil_linkage_matching::kernels::{and_popcount_with, Kernel};
use veil_linkage_matching::{find_candidate_pairs_with, CandidateOptions, ClkSet};

fn load(party: &str) -> ClkSet {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
        "tests/data/clkhash-0.18.3.febrl4_{party}.febrl_v3_blake.json"
    ));
    ClkSet::from_clk_json(File::open(p).expect("fixture"), None).expect("clks")
}

fn kernels(c: &mut Criterion) {
    let (a, b) = (load("a"), load("b"));
    let mut g = c.benchmark_group("and_popcount_1024bit");
    g.throughput(Throughput::Elements(1000));
    for k in Kernel::available() {
        g.bench_function(k.name(), |bench| {
            bench.iter(|| {
                let x = a.get(0).unwrap_or(&[]);
                let mut s = 0u32;
                for y in b.iter().take(1000) {
                    s = s.wrapping_add(and_popcount_with(k, black_box(x), y));
                }
                s
            })
        });
    }
    g.finish();
}

fn febrl_all_pairs(c: &mut Criterion) {
    let (a, b) = (load("a"), load("b"));
    let mut g = c.benchmark_group("febrl4_5k_x_5k_t0.8_1thread");
    g.throughput(Throughput::Elements((a.len() * b.len()) as u64));
    g.sample_size(20);
    for k in Kernel::available() {
        let opts = CandidateOptions {
            threshold: 0.8,
            top_k: None,
            threads: 1,
            kernel: Some(k),
        };
        g.bench_function(k.name(), |bench| {
            bench.iter(|| {
                find_candidate_pairs_with(&[&a, &b], &opts)
                    .map(|c| c.len())
                    .unwrap_or(0)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, kernels, febrl_all_pairs);
criterion_main!(benches);
