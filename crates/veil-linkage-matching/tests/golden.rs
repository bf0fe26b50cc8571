//! Golden tests: FEBRL4 candidates and greedy groups identical to anonlink 0.15.3.

use std::fs::File;
use std::path::PathBuf;

use veil_linkage_matching::kernels::Kernel;
use veil_linkage_matching::{
    eval, find_candidate_pairs_with, greedy_solve, read_candidates_csv, read_groups_json,
    write_candidates_csv, write_groups_json, CandidateOptions, ClkSet,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn clks(party: &str, schema: &str) -> ClkSet {
    let f = File::open(data(&format!(
        "clkhash-0.18.3.febrl4_{party}.febrl_v3_{schema}.json"
    )))
    .expect("fixture");
    ClkSet::from_clk_json(f, None).expect("valid CLKs")
}

fn golden(schema: &str, t: &str, kernel: Kernel, threads: usize) {
    let (a, b) = (clks("a", schema), clks("b", schema));
    assert_eq!((a.len(), b.len(), a.clk_bytes()), (5000, 5000, 128));
    let opts = CandidateOptions {
        threshold: t.parse().expect("threshold"),
        top_k: None,
        threads,
        kernel: Some(kernel),
    };
    let cands = find_candidate_pairs_with(&[&a, &b], &opts).expect("candidates");
    let mut csv = Vec::new();
    write_candidates_csv(&cands, &mut csv).expect("csv");
    let want = std::fs::read(data(&format!(
        "anonlink-0.15.3.febrl_v3_{schema}.t{t}.candidates.csv"
    )))
    .expect("fixture");
    if csv != want {
        let (got, want) = (
            String::from_utf8_lossy(&csv),
            String::from_utf8_lossy(&want),
        );
        let first = got.lines().zip(want.lines()).position(|(g, w)| g != w);
        panic!(
            "{schema} t{t} {kernel:?}: candidate CSV differs (ours {} lines, reference {}); first differing line {first:?}",
            got.lines().count(),
            want.lines().count()
        );
    }
    // Round trip through the parser.
    let parsed = read_candidates_csv(&want[..]).expect("parse reference");
    assert_eq!(parsed, cands);

    let groups = greedy_solve(&cands);
    let reference = read_groups_json(
        File::open(data(&format!(
            "anonlink-0.15.3.febrl_v3_{schema}.t{t}.groups.json"
        )))
        .expect("fixture"),
    )
    .expect("groups json");
    let mut sorted_ref = reference.clone();
    sorted_ref.iter_mut().for_each(|g| g.sort_unstable());
    sorted_ref.sort_unstable();
    assert_eq!(groups, sorted_ref, "{schema} t{t}: groups differ");
    let mut out = Vec::new();
    write_groups_json(&groups, &mut out).expect("json");
    assert_eq!(read_groups_json(&out[..]).expect("reparse"), groups);
}

#[test]
fn blake_t08_matches_anonlink_all_kernels() {
    for k in Kernel::available() {
        golden("blake", "0.8", k, 2);
    }
}

#[test]
fn blake_t06_matches_anonlink() {
    golden(
        "blake",
        "0.6",
        veil_linkage_matching::kernels::detected_kernel(),
        2,
    );
}

#[test]
fn doublehash_t08_matches_anonlink() {
    golden(
        "doublehash",
        "0.8",
        veil_linkage_matching::kernels::detected_kernel(),
        1,
    );
}

#[test]
fn groups_json_format_matches_reference_bytes() {
    // Writing the reference's own group order reproduces its bytes exactly.
    let raw =
        std::fs::read(data("anonlink-0.15.3.febrl_v3_blake.t0.8.groups.json")).expect("fixture");
    let groups = read_groups_json(&raw[..]).expect("parse");
    let mut out = Vec::new();
    write_groups_json(&groups, &mut out).expect("write");
    assert_eq!(out, raw);
}

#[test]
fn febrl_quality() {
    let raw = File::open(data("anonlink-0.15.3.febrl_v3_blake.t0.8.groups.json")).expect("fixture");
    let groups = read_groups_json(raw).expect("parse");
    let truth = eval::read_truth_csv(File::open(data("febrl4_truth.csv")).expect("fixture"))
        .expect("truth");
    assert_eq!(truth.len(), 5000);
    let q = eval::evaluate(&groups, &truth);
    assert_eq!(q.predicted, 4752);
    assert!(q.precision > 0.99 && q.recall > 0.9, "{q:?}");
}
