//! Schema errors, clknblocks output, statistics and property tests.

use proptest::prelude::*;
use serde_json::{json, Value};
use veil_linkage_blocking::*;

fn lambda(k: u64, lambda: u64, seed: i64) -> BlockingSchema {
    BlockingSchema::from_value(&json!({"version": 1, "type": "lambda-fold", "config": {
        "blocking-features": [0], "Lambda": lambda, "bf-len": 64, "num-hash-funcs": 2,
        "K": k, "input-clks": true, "random_state": seed}}))
    .unwrap()
}

fn psig() -> Value {
    json!({"version": 1, "type": "p-sig", "config": {
        "blocking-features": [0, 1],
        "filter": {"type": "ratio", "max": 0.5, "min": 0.0},
        "blocking-filter": {"type": "bloom filter", "number-hash-functions": 3, "bf-len": 512},
        "signatureSpecs": [[{"type": "feature-value", "feature": 0}],
                           [{"type": "characters-at", "config": {"pos": ["0:2"]}, "feature": 1}]]}})
}

fn field_of(e: SchemaError) -> String {
    match e {
        SchemaError::Missing { field }
        | SchemaError::Invalid { field, .. }
        | SchemaError::Unsupported { field, .. } => field,
        SchemaError::Json(m) => panic!("unexpected JSON error {m}"),
    }
}

#[test]
fn malformed_schemas_name_the_field() {
    let cases: Vec<(&str, Value)> = vec![
        ("version", json!({"type": "p-sig", "config": {}})),
        (
            "version",
            json!({"version": 2, "type": "p-sig", "config": {}}),
        ),
        (
            "type",
            json!({"version": 1, "type": "x", "config": {"blocking-features": [1]}}),
        ),
        (
            "config.blocking-features",
            json!({"version": 1, "type": "p-sig", "config": {}}),
        ),
        (
            "config.blocking-features",
            json!({"version": 1, "type": "p-sig", "config": {"blocking-features": [1, "a"]}}),
        ),
        (
            "config.K",
            json!({"version": 1, "type": "lambda-fold", "config": {"blocking-features": [1],
            "Lambda": 1, "bf-len": 8, "num-hash-funcs": 1, "input-clks": true, "random_state": 1}}),
        ),
        (
            "config.random_state",
            json!({"version": 1, "type": "lambda-fold", "config": {"blocking-features": [1],
            "Lambda": 1, "bf-len": 8, "num-hash-funcs": 1, "K": 2, "input-clks": true, "random_state": "x"}}),
        ),
    ];
    for (field, v) in cases {
        let err = BlockingSchema::from_value(&v).unwrap_err();
        assert_eq!(field_of(err.clone()), field, "{err}");
        assert!(err.to_string().contains(field));
    }
    let mut v = psig();
    v["config"]["signatureSpecs"][1][0]["config"]["pos"][0] = json!("3:1");
    assert_eq!(
        field_of(BlockingSchema::from_value(&v).unwrap_err()),
        "config.signatureSpecs[1][0].config.pos[0]"
    );
    let mut v = psig();
    v["config"]["signatureSpecs"][0][0]["type"] = json!("metaphone");
    let err = BlockingSchema::from_value(&v).unwrap_err();
    assert!(matches!(err, SchemaError::Unsupported { .. }));
    assert_eq!(field_of(err), "config.signatureSpecs[0][0].type");
    let mut v = psig();
    v["config"]["filter"]["max"] = json!(1.5);
    assert_eq!(
        field_of(BlockingSchema::from_value(&v).unwrap_err()),
        "config.filter.max"
    );
    let mut v = psig();
    v["config"]["blocking-filter"]
        .as_object_mut()
        .unwrap()
        .remove("bf-len");
    assert_eq!(
        field_of(BlockingSchema::from_value(&v).unwrap_err()),
        "config.blocking-filter.bf-len"
    );
}

#[test]
fn wrong_input_and_unknown_feature_are_errors() {
    let clks = Clks::from_encoded(vec!["AAAAAAAAAAA=".into()]).unwrap();
    let ps = BlockingSchema::from_value(&psig()).unwrap();
    assert!(matches!(
        block_clks(&ps, &clks),
        Err(BlockingError::WrongInput(_))
    ));
    let mut v = psig();
    v["config"]["signatureSpecs"][0][0]["feature"] = json!("nope");
    let s = BlockingSchema::from_value(&v).unwrap();
    let header = vec!["a".to_string(), "b".to_string()];
    let err = block_records(&s, Some(&header), &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("config.signatureSpecs[0][0].feature"),
        "{err}"
    );
    let rows = vec![vec!["x".to_string()]];
    assert!(matches!(
        block_records(&ps, None, &rows),
        Err(BlockingError::MissingColumn { row: 0, .. })
    ));
    assert!(matches!(
        Clks::from_encoded(vec!["!!".into()]),
        Err(BlockingError::Clk { index: 0, .. })
    ));
}

#[test]
fn clknblocks_output_is_valid_json() {
    let clks = Clks::from_encoded(vec!["AAAAAAAAAAA=".into(), "//////////8=".into()]).unwrap();
    let blocks = block_clks(&lambda(4, 3, 1), &clks).unwrap();
    let mut out = Vec::new();
    write_clknblocks(&mut out, &clks.encoded, &blocks).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    let rows = v["clknblocks"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "AAAAAAAAAAA=");
    assert_eq!(rows[0].as_array().unwrap().len(), 4);
    assert_eq!(rows[0][1], "00000");
    assert_eq!(rows[1][3], "21111");
}

#[test]
fn stats_count_comparisons() {
    let mut a = BlocksBuilder::new();
    a.push_record(["x".to_string(), "y".to_string()]);
    a.push_record(["x".to_string()]);
    a.push_record(Vec::<String>::new());
    let a = a.build();
    let mut b = BlocksBuilder::new();
    b.push_record(["x".to_string(), "y".to_string()]);
    b.push_record(["z".to_string()]);
    let b = b.build();
    let s = BlockStats::of(&a);
    assert_eq!(
        (
            s.num_blocks,
            s.min_size,
            s.max_size,
            s.records_without_block
        ),
        (2, 1, 2, 1)
    );
    assert_eq!(s.median_size, 1.5);
    assert_eq!(s.largest_block.as_deref(), Some("x"));
    let c = ComparisonStats::of(&[&a, &b], u128::MAX);
    assert_eq!(c.all_pairs, 6);
    assert_eq!(c.shared_blocks, 2);
    assert_eq!(c.comparisons_with_repeats, 3); // x: 2*1, y: 1*1
    assert_eq!(c.distinct_pairs, Some(2)); // (a0,b0) shares x and y once
    assert_eq!(c.largest_block, Some(("x".to_string(), 2)));
    assert_eq!(ComparisonStats::of(&[&a, &b], 1).distinct_pairs, None);
    assert!(c.to_string().contains("Distinct candidate pairs"));
    assert!(s.to_string().contains("Number of blocks"));
}

#[test]
fn lsh_keeps_similar_clks_together() {
    // Near-duplicates (1 bit flipped of 512) share most bands; random CLKs rarely do.
    let mut state = 0x1234_5678_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut bits = Vec::new();
    for _ in 0..50 {
        let clk: Vec<u8> = (0..64).map(|_| next() as u8).collect();
        let mut dup = clk.clone();
        dup[(next() % 64) as usize] ^= 1 << (next() % 8);
        bits.push(clk);
        bits.push(dup);
    }
    let schema = match lambda(12, 8, 42) {
        BlockingSchema::LambdaFold(c) => c,
        _ => unreachable!(),
    };
    let blocks = lambda_fold_clks(&schema, &bits).unwrap();
    let shared = |i: usize, j: usize| {
        blocks
            .block_indices(i)
            .iter()
            .filter(|b| blocks.block_indices(j).contains(b))
            .count()
    };
    let recall = (0..50).filter(|&e| shared(2 * e, 2 * e + 1) > 0).count();
    assert!(recall >= 48, "recall {recall}/50");
    let false_pairs = (0..49).filter(|&e| shared(2 * e, 2 * e + 2) > 0).count();
    assert!(false_pairs <= 5, "false pairs {false_pairs}");
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-10.0f64..10.0).prop_map(Value::from),
        "[a-zA-Z:_ -]{0,8}".prop_map(Value::from),
        prop_oneof![
            Just("p-sig"),
            Just("lambda-fold"),
            Just("ratio"),
            Just("count"),
            Just("bloom filter"),
            Just("characters-at"),
            Just("feature-value")
        ]
        .prop_map(Value::from),
    ];
    let keys = prop_oneof![
        Just("version"),
        Just("type"),
        Just("config"),
        Just("blocking-features"),
        Just("filter"),
        Just("max"),
        Just("min"),
        Just("blocking-filter"),
        Just("bf-len"),
        Just("number-hash-functions"),
        Just("signatureSpecs"),
        Just("feature"),
        Just("pos"),
        Just("Lambda"),
        Just("K"),
        Just("num-hash-funcs"),
        Just("input-clks"),
        Just("random_state")
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::btree_map(keys.clone().prop_map(String::from), inner, 0..7)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_schema_json_never_panics(v in arb_json()) {
        if let Ok(schema) = BlockingSchema::from_value(&v) {
            let rows = vec![vec!["ab".to_string(), "".to_string(), "xyz".to_string()]; 3];
            let _ = block_records(&schema, None, &rows);
            let clks = Clks::from_encoded(vec!["AAAAAAAAAAA=".into()]).unwrap();
            let _ = block_clks(&schema, &clks);
        }
    }

    #[test]
    fn lsh_is_deterministic_and_covers_every_record(
        seed in any::<i64>(), k in 1u64..20, l in 1u64..6,
        clks in prop::collection::vec(prop::collection::vec(any::<u8>(), 8), 1..20),
    ) {
        let schema = lambda(k, l, seed);
        let enc: Vec<String> = clks.iter().map(|c| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(c)
        }).collect();
        let set = Clks::from_encoded(enc).unwrap();
        let a = block_clks(&schema, &set).unwrap();
        let b = block_clks(&schema, &set).unwrap();
        prop_assert_eq!(&a, &b);
        for r in 0..a.num_records() {
            prop_assert_eq!(a.record_blocks(r).count() as u64, l);
        }
    }

    #[test]
    fn psig_records_sharing_a_block_share_a_signature_value(
        names in prop::collection::vec("[a-c]{1,3}", 2..30),
    ) {
        let v = json!({"version": 1, "type": "p-sig", "config": {
            "blocking-features": [0],
            "filter": {"type": "count", "max": 1000, "min": 1},
            "blocking-filter": {"type": "bloom filter", "number-hash-functions": 20, "bf-len": 4096},
            "signatureSpecs": [[{"type": "feature-value", "feature": 0}]]}});
        let schema = BlockingSchema::from_value(&v).unwrap();
        let rows: Vec<Vec<String>> = names.iter().map(|n| vec![n.clone()]).collect();
        let blocks = block_records(&schema, None, &rows).unwrap();
        for i in 0..rows.len() {
            for j in 0..rows.len() {
                let share = blocks.block_indices(i).iter().any(|b| blocks.block_indices(j).contains(b));
                prop_assert_eq!(share, rows[i] == rows[j]);
            }
        }
    }
}
