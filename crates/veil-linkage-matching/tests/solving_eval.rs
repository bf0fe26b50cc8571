//! Solver, Entity-Service outputs and evaluation helpers.

use veil_linkage_matching::eval::{evaluate, suggest_threshold, Histogram};
use veil_linkage_matching::solving::{pairs_from_groups, permutations, similarity_scores};
use veil_linkage_matching::{greedy_solve, Candidate, Candidates};

fn cands(rows: &[(f64, u32, u32, u32, u32)]) -> Candidates {
    let mut c = Candidates::default();
    for &(score, dataset_a, row_a, dataset_b, row_b) in rows {
        c.push(Candidate {
            score,
            dataset_a,
            row_a,
            dataset_b,
            row_b,
        });
    }
    c
}

#[test]
fn greedy_two_party_takes_best_first() {
    let c = cands(&[
        (0.9, 0, 0, 1, 0),
        (0.8, 0, 0, 1, 1),
        (0.8, 0, 1, 1, 0),
        (0.7, 0, 1, 1, 1),
    ]);
    assert_eq!(
        greedy_solve(&c),
        vec![vec![(0, 0), (1, 0)], vec![(0, 1), (1, 1)]]
    );
}

#[test]
fn greedy_multiparty_merges_only_when_all_links_seen() {
    // a-b, then c-a (c joins? a's group has 2, so c becomes a singleton linked once),
    // then c-b completes the links and c merges.
    let c = cands(&[(0.9, 0, 0, 1, 0), (0.8, 0, 0, 2, 0), (0.7, 1, 0, 2, 0)]);
    assert_eq!(greedy_solve(&c), vec![vec![(0, 0), (1, 0), (2, 0)]]);
    let partial = cands(&[(0.9, 0, 0, 1, 0), (0.8, 0, 0, 2, 0)]);
    assert_eq!(greedy_solve(&partial), vec![vec![(0, 0), (1, 0)]]);
}

#[test]
fn permutations_shape() {
    let pairs = pairs_from_groups(&vec![vec![(0, 2), (1, 0)], vec![(1, 3), (0, 0)]]).unwrap();
    assert_eq!(pairs, vec![(0, 3), (2, 0)]);
    let p = permutations(&pairs, 4, 6, 42).unwrap();
    assert_eq!(
        (p.permutation_a.len(), p.permutation_b.len(), p.mask.len()),
        (4, 6, 4)
    );
    let mut sa = p.permutation_a.clone();
    sa.sort_unstable();
    assert_eq!(sa, vec![0, 1, 2, 3]);
    let mut sb = p.permutation_b.clone();
    sb.sort_unstable();
    assert_eq!(sb, (0..6).collect::<Vec<_>>());
    for (a, b) in pairs {
        let pos = p.permutation_a[a as usize];
        assert_eq!(pos, p.permutation_b[b as usize]);
        assert_eq!(p.mask[pos as usize], 1);
    }
    assert_eq!(p.mask.iter().filter(|&&m| m == 1).count(), 2);
    assert!(pairs_from_groups(&vec![vec![(0, 1), (0, 2)]]).is_err());
    assert!(permutations(&[(9, 0)], 4, 6, 1).is_err());
}

#[test]
fn similarity_scores_shape() {
    let c = cands(&[(0.9, 0, 4, 1, 7)]);
    let s = similarity_scores(&c);
    assert_eq!(serde_json::to_string(&s).unwrap(), "[[[0,4],[1,7],0.9]]");
}

#[test]
fn evaluation_counts() {
    let groups = vec![vec![(0, 0), (1, 0)], vec![(0, 1), (1, 2)]];
    let q = evaluate(&groups, &[(0, 0), (1, 1), (2, 2)]);
    assert_eq!((q.true_positives, q.predicted, q.actual), (1, 2, 3));
    assert!((q.precision - 0.5).abs() < 1e-12 && (q.recall - 1.0 / 3.0).abs() < 1e-12);
    assert!((q.f1 - 0.4).abs() < 1e-12);
}

#[test]
fn threshold_at_valley_of_bimodal_scores() {
    // Deterministic bimodal sample: many non-matches around 0.45, fewer matches around 0.9.
    let mut s = 12345u64;
    let mut unif = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut normal = move |mu: f64, sd: f64| {
        let (u1, u2) = (unif().max(1e-12), unif());
        mu + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let mut scores: Vec<f64> = (0..50_000).map(|_| normal(0.45, 0.06)).collect();
    scores.extend((0..3_000).map(|_| normal(0.9, 0.04)));
    let hist = Histogram::new(&scores, 100, 0.0, 1.0);
    assert_eq!(
        hist.counts.iter().sum::<u64>(),
        scores.iter().filter(|x| (0.0..=1.0).contains(*x)).count() as u64
    );
    let t = suggest_threshold(&hist).expect("two modes");
    assert!((0.62..0.8).contains(&t), "suggested {t}");
    // Unimodal data has no valley.
    let uni: Vec<f64> = (0..20_000).map(|_| normal(0.5, 0.08)).collect();
    assert_eq!(
        suggest_threshold(&Histogram::new(&uni, 100, 0.0, 1.0)),
        None
    );
}
