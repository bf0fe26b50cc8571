//! Determinism, truth consistency, corruption rates and CSV safety.

use proptest::prelude::*;
use veil_linkage_datagen::*;

struct Out {
    a: Vec<u8>,
    b: Vec<u8>,
    t: Vec<u8>,
    summary: GenSummary,
}

fn run(cfg: &GeneratorConfig) -> Out {
    let (mut a, mut b, mut t) = (Vec::new(), Vec::new(), Vec::new());
    let summary = generate(cfg, &mut a, &mut b, &mut t, |_| {}).unwrap();
    Out { a, b, t, summary }
}

fn run_threads(cfg: &GeneratorConfig, threads: usize) -> Out {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| run(cfg))
}

fn rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_reader(bytes);
    r.records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn same_seed_same_bytes_across_threads_and_chunks() {
    let cfg = GeneratorConfig {
        records: 3000,
        seed: 7,
        chunk_size: 256,
        ..Default::default()
    };
    let one = run_threads(&cfg, 1);
    let four = run_threads(
        &GeneratorConfig {
            chunk_size: 1000,
            ..cfg.clone()
        },
        4,
    );
    assert_eq!(one.a, four.a);
    assert_eq!(one.b, four.b);
    assert_eq!(one.t, four.t);
    assert_eq!(one.summary, four.summary);
    let other = run(&GeneratorConfig { seed: 8, ..cfg });
    assert_ne!(one.a, other.a);
}

#[test]
fn header_matches_febrl4_and_truth_is_consistent() {
    for overlap in [1.0, 0.6] {
        let cfg = GeneratorConfig {
            records: 2000,
            seed: 3,
            overlap,
            ..Default::default()
        };
        let out = run(&cfg);
        let header = String::from_utf8_lossy(&out.a)
            .lines()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(header, "rec_id,given_name,surname,street_number,address_1,address_2,suburb,postcode,state,date_of_birth,soc_sec_id");
        let (a, b, t) = (rows(&out.a), rows(&out.b), rows(&out.t));
        assert_eq!((a.len(), b.len()), (2000, 2000));
        assert_eq!(t.len() as u64, out.summary.matches);
        assert_eq!(t.len(), (overlap * 2000.0) as usize);
        let mut seen_b = std::collections::HashSet::new();
        for pair in &t {
            let (ra, rb): (usize, usize) = (pair[2].parse().unwrap(), pair[3].parse().unwrap());
            assert_eq!(a[ra][0], pair[0]);
            assert_eq!(b[rb][0], pair[1]);
            assert!(seen_b.insert(rb));
        }
        let unmatched_b = b.iter().filter(|r| r[0].ends_with("-org")).count();
        assert_eq!(unmatched_b, 2000 - t.len());
        // B is shuffled: not in A order.
        let in_order = t.iter().filter(|p| p[2] == p[3]).count();
        assert!(in_order < 20);
    }
}

#[test]
fn corruption_rates_are_roughly_as_configured() {
    let rates = CorruptionRates {
        typo: 0.1,
        missing: 0.05,
        name_swap: 0.1,
        nickname: 0.0,
        date_swap: 0.0,
        digit_error: 0.2,
    };
    let cfg = GeneratorConfig {
        records: 10_000,
        seed: 11,
        corruption: rates,
        ..Default::default()
    };
    let out = run(&cfg);
    let n = 10_000.0;
    let s = out.summary.corruption_b;
    let near = |count: u64, expected: f64| (count as f64 - expected).abs() < expected * 0.15;
    assert!(near(s.typos, n * 5.0 * 0.1 * 0.97), "{s:?}");
    assert!(near(s.name_swaps, n * 0.1), "{s:?}");
    assert!(near(s.digit_errors, n * 3.0 * 0.2), "{s:?}");
    assert!(near(s.missing, n * 10.0 * 0.05 * 0.97), "{s:?}");
    assert_eq!(s.nicknames + s.date_swaps, 0);
    // Observable: empty surnames in B ≈ missing rate (A has none).
    let b = rows(&out.b);
    let empty = b.iter().filter(|r| r[2].is_empty()).count() as f64;
    assert!((empty / n - 0.05).abs() < 0.015, "{empty}");
    let a = rows(&out.a);
    assert!(a.iter().all(|r| !r[1].is_empty() && !r[2].is_empty()));
    // Observable: given/surname swapped vs the true A record.
    let swapped = rows(&out.t)
        .iter()
        .filter(|p| {
            let (ra, rb) = (
                &a[p[2].parse::<usize>().unwrap()],
                &b[p[3].parse::<usize>().unwrap()],
            );
            ra[1] != ra[2] && rb[1].starts_with(&ra[2][..1]) && rb[2] == ra[1]
        })
        .count() as f64;
    assert!((swapped / n - 0.1).abs() < 0.03, "{swapped}");
}

#[test]
fn invalid_config_names_the_field() {
    let bad = GeneratorConfig {
        corruption: CorruptionRates {
            typo: 1.5,
            ..Default::default()
        },
        ..Default::default()
    };
    let err = generate(&bad, Vec::new(), Vec::new(), Vec::new(), |_| {}).unwrap_err();
    assert!(err.to_string().contains("corruption.typo"), "{err}");
    let bad = GeneratorConfig {
        overlap: -0.1,
        ..Default::default()
    };
    let err = generate(&bad, Vec::new(), Vec::new(), Vec::new(), |_| {}).unwrap_err();
    assert!(err.to_string().contains("overlap"), "{err}");
}

#[test]
fn nicknames_and_date_swaps_happen() {
    let rates = CorruptionRates {
        nickname: 1.0,
        date_swap: 1.0,
        ..CorruptionRates::NONE
    };
    let out = run(&GeneratorConfig {
        records: 2000,
        seed: 5,
        corruption: rates,
        ..Default::default()
    });
    assert!(out.summary.corruption_b.nicknames > 50);
    assert!(out.summary.corruption_b.date_swaps > 500);
    assert_eq!(swap_day_month("19800312"), Some("19801203".into()));
    assert_eq!(swap_day_month("19800320"), None);
}

#[test]
fn scale_quick_check() {
    let start = std::time::Instant::now();
    let out = run(&GeneratorConfig {
        records: 100_000,
        seed: 1,
        ..Default::default()
    });
    assert_eq!(out.summary.records_b, 100_000);
    eprintln!("100k records/side in {:?}", start.elapsed());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn fields_never_break_unquoted_csv(seed in any::<u64>(), n in 1u64..200, overlap in 0.0f64..=1.0) {
        let rates = CorruptionRates { typo: 0.5, missing: 0.2, name_swap: 0.3, nickname: 0.5, date_swap: 0.5, digit_error: 0.5 };
        let out = run(&GeneratorConfig { records: n, seed, overlap, corruption: rates, corruption_a: rates, chunk_size: 17 });
        for data in [&out.a, &out.b, &out.t] {
            let text = String::from_utf8(data.clone()).unwrap();
            prop_assert!(!text.contains('"'));
            let cols = if std::ptr::eq(data, &out.t) { 4 } else { 11 };
            for line in text.lines() {
                prop_assert_eq!(line.split(',').count(), cols);
            }
        }
    }

    #[test]
    fn typo_keeps_csv_safe(s in "[a-z' ]{0,12}", seed in any::<u64>()) {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let t = typo(&s, &mut rng);
        prop_assert!(!t.contains(',') && !t.contains('\n') && !t.contains('"'));
        prop_assert!(t.chars().count().abs_diff(s.chars().count()) <= 1);
    }
}
