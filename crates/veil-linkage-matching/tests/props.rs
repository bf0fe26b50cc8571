//! Property tests: every kernel variant agrees with the scalar reference, and candidate
//! generation agrees with a brute-force model of anonlink's semantics.

use proptest::prelude::*;
use veil_linkage_matching::candidates::anonlink_max_delta;
use veil_linkage_matching::kernels::{
    self, and_popcount_with, BlockLayout, Kernel, RowTile, TILE_ROWS,
};
use veil_linkage_matching::pyrepr::python_float_repr;
use veil_linkage_matching::{find_candidate_pairs_with, CandidateOptions, ClkSet};

fn clk_bytes_strategy() -> impl Strategy<Value = (usize, Vec<Vec<u8>>)> {
    (1usize..=1024).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec(prop::collection::vec(any::<u8>(), n), 2),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn and_popcount_variants_agree((_n, clks) in clk_bytes_strategy()) {
        let set = ClkSet::from_bytes(&clks).unwrap();
        let (a, b) = (set.get(0).unwrap(), set.get(1).unwrap());
        let want = and_popcount_with(Kernel::Scalar, a, b);
        let bytes_want: u32 = clks[0].iter().zip(&clks[1]).map(|(x, y)| (x & y).count_ones()).sum();
        prop_assert_eq!(want, bytes_want);
        for k in Kernel::available() {
            prop_assert_eq!(and_popcount_with(k, a, b), want, "{:?}", k);
        }
    }

    #[test]
    fn scan_variants_agree(
        words in prop_oneof![Just(16usize), 1usize..=40],
        nrows in 1usize..=TILE_ROWS,
        nb in 1usize..=40,
        density in 0.0f64..1.0,
        seed in any::<u64>(),
        t in 0.0f64..1.0,
    ) {
        let mut s = seed | 1;
        let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
        let mut word = || {
            let mut w = 0u64;
            for bit in 0..64 { if (next() % 1000) as f64 / 1000.0 < density { w |= 1 << bit; } }
            w
        };
        let b: Vec<Vec<u64>> = (0..nb).map(|_| (0..words).map(|_| word()).collect()).collect();
        let a: Vec<Vec<u64>> = (0..nrows).map(|_| (0..words).map(|_| word()).collect()).collect();
        let need = |p: u32| (t / 2.0 * f64::from(p)) as u64;
        let layout = BlockLayout::build(b.iter().map(Vec::as_slice), words, |c| need(kernels::popcount(c)));
        let mut tile = RowTile { rows: [a[0].as_slice(); TILE_ROWS], need_a: [0; TILE_ROWS], rest_a: [0; TILE_ROWS], n: nrows };
        for (r, row) in a.iter().enumerate() {
            tile.rows[r] = row;
            tile.need_a[r] = need(kernels::popcount(row));
            tile.rest_a[r] = u64::from(kernels::popcount(&row[layout.split..]));
        }
        let mut want = Vec::new();
        kernels::scan(Kernel::Scalar, &tile, &layout, 0..layout.blocks(), &mut want);
        // The scalar scan emits exactly the pairs with count >= need_a + need_b.
        let mut brute = Vec::new();
        for blk in 0..layout.blocks() {
            for (r, row) in a.iter().enumerate() {
                for l in 0..8 {
                    let j = blk * 8 + l;
                    if j < nb && u64::from(and_popcount_with(Kernel::Scalar, row, &b[j])) >= tile.need_a[r] + layout.need_b[j] {
                        brute.push((r as u8, j as u32));
                    }
                }
            }
        }
        prop_assert_eq!(&want, &brute);
        for k in Kernel::available() {
            let mut got = Vec::new();
            kernels::scan(k, &tile, &layout, 0..layout.blocks(), &mut got);
            prop_assert_eq!(&got, &want, "{:?}", k);
        }
    }

    #[test]
    fn candidates_match_bruteforce_model(
        nbytes in prop_oneof![Just(1usize), Just(2), Just(8), Just(16), Just(128)],
        sizes in prop::collection::vec(0usize..20, 2..=4),
        density in 0.0f64..1.0,
        seed in any::<u64>(),
        t in prop_oneof![Just(0.0), Just(0.5), Just(0.6), Just(0.8), Just(1.0), 0.0f64..1.0],
        k in prop_oneof![Just(None), (0usize..4).prop_map(Some)],
    ) {
        let mut s = seed | 1;
        let mut next = move || { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s };
        let sets: Vec<ClkSet> = sizes.iter().map(|&n| {
            let mut set = ClkSet::new(nbytes).unwrap();
            for _ in 0..n {
                let clk: Vec<u8> = (0..nbytes).map(|_| (0..8).fold(0u8, |acc, bit| {
                    if (next() % 1000) as f64 / 1000.0 < density { acc | (1 << bit) } else { acc }
                })).collect();
                set.push(&clk).unwrap();
            }
            set
        }).collect();
        let refs: Vec<&ClkSet> = sets.iter().collect();
        let bits = (nbytes * 8) as u32;
        // Brute-force model of anonlink.
        let mut model = Vec::new();
        for i in 0..sets.len() {
            for j in i + 1..sets.len() {
                let (a, b) = (&sets[i], &sets[j]);
                let kk = k.unwrap_or(b.len()).min(b.len());
                for (ra, wa) in a.iter().enumerate() {
                    let pa = kernels::popcount(wa);
                    let mut row = Vec::new();
                    for (rb, wb) in b.iter().enumerate() {
                        let pb = kernels::popcount(wb);
                        if pa == 0 {
                            if t.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) && rb < kk { row.push((0.0, rb)); }
                            continue;
                        }
                        if pa.abs_diff(pb) > anonlink_max_delta(pa, t, bits) { continue; }
                        let sc = kernels::dice_from_counts(and_popcount_with(Kernel::Scalar, wa, wb), pa, pb);
                        if sc >= t { row.push((sc, rb)); }
                    }
                    if pa != 0 {
                        row.sort_by(|x: &(f64, usize), y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
                        row.truncate(kk);
                    }
                    model.extend(row.into_iter().map(|(sc, rb)| (sc, i as u32, j as u32, ra as u32, rb as u32)));
                }
            }
        }
        model.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2, x.3, x.4).cmp(&(y.1, y.2, y.3, y.4))));
        if let Some(k) = k {
            let mut seen = std::collections::HashMap::new();
            model.retain(|c| {
                let a = { let e = seen.entry((c.1, c.2, 0, c.3)).or_insert(0usize); *e += 1; *e };
                let b = { let e = seen.entry((c.1, c.2, 1, c.4)).or_insert(0usize); *e += 1; *e };
                a <= k && b <= k
            });
        }
        for kern in Kernel::available() {
            let opts = CandidateOptions { threshold: t, top_k: k, threads: 2, kernel: Some(kern) };
            let got = find_candidate_pairs_with(&refs, &opts).unwrap();
            let got: Vec<_> = got.iter().map(|c| (c.score, c.dataset_a, c.dataset_b, c.row_a, c.row_b)).collect();
            prop_assert_eq!(&got, &model, "{:?}", kern);
        }
    }

    #[test]
    fn python_repr_round_trips(x in any::<f64>()) {
        let s = python_float_repr(x);
        if x.is_nan() {
            prop_assert_eq!(s, "nan");
        } else {
            prop_assert_eq!(s.parse::<f64>().unwrap().to_bits(), x.to_bits());
            prop_assert!(s.contains('.') || s.contains('e') || s.contains("inf"));
        }
    }
}
