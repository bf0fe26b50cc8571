//! Blocked candidate generation equals "all pairs, then keep the pairs sharing a block" (and,
//! with top-k, anonlink's top-k rules applied to those pairs), on random small inputs.

use std::collections::HashMap;

use proptest::prelude::*;
use veil_linkage_matching::{
    find_candidate_pairs_blocked, find_candidate_pairs_with, read_clk_document, Candidate,
    CandidateOptions, Candidates, ClkDocument, ClkSet, Kernel, RecordBlocks,
};

/// xorshift stream from a seed.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

/// Datasets of noisy copies of a few prototypes (so that many pairs are similar), and random
/// block ids per record.
fn inputs(
    seed: u64,
    sizes: &[usize],
    bytes: usize,
    ids: u64,
    flips: u64,
) -> (Vec<ClkSet>, Vec<RecordBlocks>) {
    let mut next = rng(seed);
    let protos: Vec<Vec<u8>> = (0..3)
        .map(|_| (0..bytes).map(|_| next() as u8).collect())
        .collect();
    let mut sets = Vec::new();
    let mut blocks = Vec::new();
    for &n in sizes {
        let mut set = ClkSet::new(bytes).unwrap();
        let mut rb = RecordBlocks::new();
        for _ in 0..n {
            let mut clk = protos[(next() % 3) as usize].clone();
            if next().is_multiple_of(7) {
                clk.iter_mut().for_each(|b| *b = 0);
            }
            for _ in 0..next() % (flips + 1) {
                let bit = next() as usize % (bytes * 8);
                clk[bit / 8] ^= 1 << (bit % 8);
            }
            set.push(&clk).unwrap();
            let count = next() % 4;
            rb.push_record((0..count).map(|_| next() % ids));
        }
        sets.push(set);
        blocks.push(rb);
    }
    (sets, blocks)
}

/// The reference: all pairs, filtered to pairs sharing a block, then anonlink's top-k.
fn reference(
    sets: &[ClkSet],
    blocks: &[RecordBlocks],
    t: f64,
    top_k: Option<usize>,
    kernel: Kernel,
) -> Candidates {
    let refs: Vec<&ClkSet> = sets.iter().collect();
    let opts = CandidateOptions {
        threshold: t,
        top_k: None,
        threads: 1,
        kernel: Some(kernel),
    };
    let all = find_candidate_pairs_with(&refs, &opts).unwrap();
    let shares = |c: &Candidate| {
        let x = blocks[c.dataset_a as usize].ids(c.row_a as usize);
        let y = blocks[c.dataset_b as usize].ids(c.row_b as usize);
        x.iter().any(|id| y.contains(id))
    };
    let kept: Vec<Candidate> = all.iter().filter(shares).collect();
    let Some(k) = top_k else {
        let mut out = Candidates::default();
        kept.into_iter().for_each(|c| out.push(c));
        return out;
    };
    // Per (dataset pair, row_a): the k best by score desc, row_b asc.
    let mut per_row: HashMap<(u32, u32, u32), Vec<Candidate>> = HashMap::new();
    for c in &kept {
        per_row
            .entry((c.dataset_a, c.dataset_b, c.row_a))
            .or_default()
            .push(*c);
    }
    let mut best = std::collections::HashSet::new();
    for list in per_row.values_mut() {
        list.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.row_b.cmp(&y.row_b)));
        for c in list.iter().take(k) {
            best.insert((c.dataset_a, c.dataset_b, c.row_a, c.row_b));
        }
    }
    // `_enforce_k` over the merged order (kept is already in anonlink's order).
    let mut seen: HashMap<(u32, u32, bool, u32), usize> = HashMap::new();
    let mut out = Candidates::default();
    for c in kept {
        if !best.contains(&(c.dataset_a, c.dataset_b, c.row_a, c.row_b)) {
            continue;
        }
        let ca = seen
            .entry((c.dataset_a, c.dataset_b, false, c.row_a))
            .or_default();
        *ca += 1;
        let ok_a = *ca <= k;
        let cb = seen
            .entry((c.dataset_a, c.dataset_b, true, c.row_b))
            .or_default();
        *cb += 1;
        if ok_a && *cb <= k {
            out.push(c);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    #[test]
    fn blocked_equals_all_pairs_filtered_to_shared_blocks(
        seed in any::<u64>(),
        sizes in prop::collection::vec(0usize..45, 2..=3),
        bytes in prop_oneof![Just(128usize), 1usize..=40],
        ids in 1u64..6,
        flips in prop_oneof![Just(0u64), 1u64..40],
        t in prop_oneof![Just(0.0f64), Just(1.0), 0.3f64..1.0],
        top_k in prop_oneof![Just(None), (1usize..4).prop_map(Some)],
        threads in 1usize..=2,
    ) {
        let (sets, blocks) = inputs(seed, &sizes, bytes, ids, flips);
        let refs: Vec<&ClkSet> = sets.iter().collect();
        let brefs: Vec<&RecordBlocks> = blocks.iter().collect();
        for kernel in Kernel::available() {
            let want = reference(&sets, &blocks, t, top_k, kernel);
            let opts = CandidateOptions { threshold: t, top_k, threads, kernel: Some(kernel) };
            let (got, stats) = find_candidate_pairs_blocked(&refs, &brefs, &opts).unwrap();
            prop_assert_eq!(&got, &want, "{:?}", kernel);
            prop_assert!(stats.block_pairs >= got.len() as u128 || top_k.is_some());
        }
    }
}

#[test]
fn record_blocks_sort_and_dedupe_ids() {
    let rb = RecordBlocks::from_lists([vec![5, 1, 5, 3], vec![], vec![2, 2]]);
    assert_eq!(rb.len(), 3);
    assert_eq!(rb.ids(0), &[1, 3, 5]);
    assert!(rb.ids(1).is_empty());
    assert_eq!(rb.ids(2), &[2]);
    assert!(rb.ids(3).is_empty());
    assert_eq!(rb.memberships(), 4);
}

#[test]
fn mismatched_block_assignments_are_errors() {
    let set = ClkSet::from_bytes([[1u8, 2], [3, 4]]).unwrap();
    let one = RecordBlocks::from_lists([vec![1u64]]);
    let opts = CandidateOptions {
        threshold: 0.5,
        top_k: None,
        threads: 1,
        kernel: None,
    };
    assert!(find_candidate_pairs_blocked(&[&set, &set], &[&one, &one], &opts).is_err());
    assert!(find_candidate_pairs_blocked(&[&set, &set], &[&one], &opts).is_err());
}

#[test]
fn clknblocks_documents_parse_with_string_and_integer_ids() {
    let doc = br#"{"clknblocks": [["AQI=", "x", 7], ["AwQ="], ["BQY=", "7", "x", "y"]]}"#;
    let ClkDocument::Blocked(set, blocks) = read_clk_document(&doc[..], None).unwrap() else {
        panic!("not blocked");
    };
    assert_eq!(set.len(), 3);
    assert_eq!(blocks.len(), 3);
    assert_eq!(
        blocks.ids(0),
        blocks
            .ids(2)
            .iter()
            .filter(|&&id| blocks.ids(0).contains(&id))
            .copied()
            .collect::<Vec<_>>()
    );
    assert_eq!(blocks.ids(2).len(), 3);
    assert!(blocks.ids(1).is_empty());
    let plain = read_clk_document(&br#"{"clks": ["AQI="]}"#[..], None).unwrap();
    assert!(matches!(plain, ClkDocument::Clks(ref c) if c.len() == 1));
    for bad in [
        &br#"{"clknblocks": [[]]}"#[..],
        br#"{"clknblocks": [["AQI=", ["x"]]]}"#,
        br#"{"clks": [], "clknblocks": []}"#,
        br#"{"other": []}"#,
    ] {
        assert!(
            read_clk_document(bad, Some(2)).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // `from_clk_json` accepts plain CLK documents only.
    assert!(ClkSet::from_clk_json(&doc[..], None).is_err());
}
