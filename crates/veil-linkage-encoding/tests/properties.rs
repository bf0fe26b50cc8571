//! Property tests: parsers and encoder never panic; encoding is deterministic and independent
//! of thread count and chunking.

use proptest::prelude::*;
use serde_json::Value;
use veil_linkage_encoding::{encode_csv, EncodeOptions, Encoder, Schema};

fn messy() -> Schema {
    Schema::from_json_str(include_str!("data/messy/schema_a.json")).unwrap()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z%_ ]{0,8}".prop_map(Value::String),
        prop::sample::select(vec![
            "ngram",
            "exact",
            "numeric",
            "blakeHash",
            "doubleHash",
            "string",
            "date",
            "integer",
            "enum"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "type",
                        "n",
                        "positional",
                        "bitsPerToken",
                        "bitsPerFeature",
                        "sentinel",
                        "format",
                        "pattern",
                        "thresholdDistance",
                        "resolution",
                        "values",
                        "minimum",
                        "x"
                    ]),
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

fn record_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9 +._eE-]{0,12}",
        "[0-3]?[0-9]/[01]?[0-9]/[0-9]{4}",
        "[A-Z]{2}[0-9]{0,4}",
        prop::sample::select(vec![
            "", "N/A", "m", "f", "x", "١٢", "inf", "nan", "1e400", "-0"
        ])
        .prop_map(String::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn schema_parser_never_panics_on_text(text in any::<String>()) {
        let _ = Schema::from_json_str(&text);
    }

    #[test]
    fn schema_parser_never_panics_on_mutated_schemas(
        feature in 0usize..10,
        path in prop::sample::select(vec!["", "format", "hashing", "hashing/comparison", "hashing/strategy", "hashing/hash", "hashing/missingValue"]),
        key in prop::sample::select(vec!["type", "n", "positional", "bitsPerToken", "bitsPerFeature", "sentinel", "format", "pattern", "encoding", "values", "resolution", "thresholdDistance", "fractional_precision", "prevent_singularity", "ignored"]),
        value in json_value(),
    ) {
        let mut schema: Value = serde_json::from_str(include_str!("data/messy/schema_a.json")).unwrap();
        let target = schema["features"][feature].pointer_mut(&if path.is_empty() { String::new() } else { format!("/{path}") });
        if let Some(Value::Object(map)) = target {
            map.insert(key.to_string(), value);
        }
        if let Ok(parsed) = Schema::from_value(&schema) {
            if let Ok(encoder) = Encoder::new(&parsed, b"secret") {
                let record = ["r", "ann", "ann", "a", "b", "AB1", "42", "1.5", "01/02/1990", "m"];
                let _ = encoder.encode_record(&record);
            }
        }
    }

    #[test]
    fn encoder_never_panics_and_is_deterministic(values in prop::collection::vec(record_value(), 10)) {
        let schema = messy();
        let record: Vec<&str> = values.iter().map(String::as_str).collect();
        let a = Encoder::new(&schema, b"secret").unwrap();
        let first = a.encode_record(&record);
        let again = a.encode_record(&record);
        let fresh = Encoder::new(&schema, b"secret").unwrap().encode_record(&record);
        prop_assert_eq!(&first, &again);
        prop_assert_eq!(&first, &fresh);
        if let Ok(clk) = first {
            prop_assert_eq!(clk.as_bytes().len(), 128);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn thread_count_and_chunking_do_not_change_output(
        rows in prop::collection::vec(
            ("[a-zé ]{0,10}", "[a-z]{0,6}", "[A-Z]{2}[0-9]{0,3}", 0u32..150, prop::sample::select(vec!["m", "f", "x", ""])),
            1..60
        ),
        threads in 2usize..5,
        chunk_rows in 1usize..17,
    ) {
        let schema = messy();
        let mut csv = String::from("id,name,name_pos,u16,u32,code,age,weight,dob,sex\n");
        for (i, (name, other, code, age, sex)) in rows.iter().enumerate() {
            csv.push_str(&format!("r{i},{name},{other},{other},{name},{code},{age},{age}.5,01/02/1990,{sex}\n"));
        }
        let run = |threads, chunk_rows| {
            let encoder = Encoder::new(&schema, b"secret").unwrap();
            let mut out = Vec::new();
            let options = EncodeOptions { threads, chunk_rows };
            encode_csv(csv.as_bytes(), &encoder, &options, |_| {}, |i, clk| {
                out.push((i, clk));
                Ok(())
            }).unwrap();
            out
        };
        let single = run(1, 10_000);
        prop_assert_eq!(single.len(), rows.len());
        prop_assert_eq!(single, run(threads, chunk_rows));
    }
}
