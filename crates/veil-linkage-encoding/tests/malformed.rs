//! Malformed schemas, CSVs and values produce specific errors, never panics.

use serde_json::{json, Value};
use veil_linkage_encoding::{
    encode_csv, EncodeError, EncodeOptions, Encoder, EncoderError, RecordError, Schema, SchemaError,
};

fn febrl_schema() -> Value {
    serde_json::from_str(include_str!("data/febrl_v3_blake.json")).unwrap()
}

fn messy_schema() -> Schema {
    Schema::from_json_str(include_str!("data/messy/schema_a.json")).unwrap()
}

fn err_of(v: &Value) -> String {
    Schema::from_value(v).unwrap_err().to_string()
}

#[test]
fn bad_json_is_a_json_error() {
    assert!(matches!(
        Schema::from_json_str("{\"version\": 3,"),
        Err(SchemaError::Json(_))
    ));
    assert!(matches!(
        Schema::from_json_str(""),
        Err(SchemaError::Json(_))
    ));
    assert_eq!(
        err_of(&json!([1, 2])),
        "schema: expected an object, found an array"
    );
}

#[test]
fn global_errors_name_the_field() {
    let mut s = febrl_schema();
    s["version"] = json!(2);
    assert!(err_of(&s).starts_with("version: version 2 schemas are not supported"));
    s["version"] = json!(4);
    assert!(err_of(&s).contains("not supported"));
    let mut s = febrl_schema();
    s["clkConfig"]["l"] = json!(1001);
    assert_eq!(
        err_of(&s),
        "clkConfig.l: must be a multiple of 8, found 1001"
    );
    let mut s = febrl_schema();
    s["clkConfig"]["kdf"]["type"] = json!("PBKDF2");
    assert_eq!(
        err_of(&s),
        "clkConfig.kdf.type: expected \"HKDF\", found \"PBKDF2\""
    );
    let mut s = febrl_schema();
    s["clkConfig"]["kdf"]["hash"] = json!("MD5");
    assert!(err_of(&s).starts_with("clkConfig.kdf.hash:"));
    let mut s = febrl_schema();
    s["clkConfig"]["kdf"]["salt"] = json!("abc");
    assert!(err_of(&s).starts_with("clkConfig.kdf.salt: invalid base64"));
    let mut s = febrl_schema();
    s.as_object_mut().unwrap().remove("features");
    assert_eq!(err_of(&s), "features: required field is missing");
    let mut s = febrl_schema();
    s["clkConfig"]["xorFolds"] = json!(-1);
    assert!(err_of(&s).starts_with("clkConfig.xorFolds: must be at least 0"));
}

#[test]
fn feature_errors_name_the_feature_and_field() {
    let mut s = febrl_schema();
    s["features"][2]["hashing"]["strategy"] = json!({"k": 20});
    assert!(
        err_of(&s).starts_with(
            "feature \"surname\": hashing.strategy: expected bitsPerToken or bitsPerFeature"
        ),
        "{}",
        err_of(&s)
    );
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/hashing/weight",
            json!(1),
            "feature \"surname\": hashing: unknown key \"weight\"",
        ),
        (
            "/format/type",
            json!("float"),
            "feature \"surname\": format.type: expected string, integer, date or enum",
        ),
        (
            "/format/minLenght",
            json!(1),
            "feature \"surname\": format: unknown key \"minLenght\"",
        ),
        (
            "/format/pattern",
            json!("(unclosed"),
            "feature \"surname\": format.pattern: invalid or unsupported",
        ),
        (
            "/hashing/hash/prevent_singularity",
            json!(true),
            "feature \"surname\": hashing.hash.prevent_singularity: only allowed with doubleHash",
        ),
        (
            "/hashing/hash/type",
            json!("sha1"),
            "feature \"surname\": hashing.hash.type: expected doubleHash or blakeHash",
        ),
        (
            "/hashing/comparison/n",
            json!(0),
            "feature \"surname\": hashing.comparison.n: must be at least 1",
        ),
        (
            "/hashing/comparison/n",
            json!(2.0),
            "feature \"surname\": hashing.comparison.n: expected an integer",
        ),
        (
            "/hashing/comparison/type",
            json!("soundex"),
            "feature \"surname\": hashing.comparison.type: expected ngram, exact or numeric",
        ),
        (
            "/hashing/strategy/bitsPerFeature",
            json!(0),
            "feature \"surname\": hashing.strategy.bitsPerFeature: must be at least 1",
        ),
        (
            "/hashing/missingValue",
            json!({"replaceWith": "x"}),
            "feature \"surname\": hashing.missingValue.sentinel: required field is missing",
        ),
        (
            "/format/encoding",
            json!("latin-1"),
            "feature \"surname\": format.encoding: expected one of ascii",
        ),
    ];
    for (pointer, value, expected) in cases {
        let mut s = febrl_schema();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        s["features"][2].pointer_mut(parent).unwrap()[key] = value;
        let msg = err_of(&s);
        assert!(msg.starts_with(expected), "{pointer}: {msg}");
    }
}

#[test]
fn other_format_and_comparison_errors() {
    let mut s = febrl_schema();
    s["features"][2]["format"] = json!({"type": "date", "format": "%Y-%Q"});
    assert!(err_of(&s).contains("unsupported strptime directive '%Q'"));
    s["features"][2]["format"] = json!({"type": "enum"});
    assert_eq!(
        err_of(&s),
        "feature \"surname\": format.values: required field is missing"
    );
    s["features"][2]["format"] = json!({"type": "integer", "minimum": 1.5});
    assert!(err_of(&s).starts_with("feature \"surname\": format.minimum: expected an integer"));
    let mut s = febrl_schema();
    s["features"][2]["hashing"]["comparison"] =
        json!({"type": "numeric", "thresholdDistance": 0, "resolution": 2});
    assert!(err_of(&s).starts_with(
        "feature \"surname\": hashing.comparison.thresholdDistance: must be greater than 0"
    ));
    s["features"][2]["hashing"]["comparison"] =
        json!({"type": "numeric", "thresholdDistance": 0.001, "resolution": 2});
    assert!(err_of(&s).contains("not enough fractional precision"));
    let mut s = febrl_schema();
    s["features"][0] = json!({"identifier": "rec_id", "ignored": true, "note": "x"});
    assert!(err_of(&s).starts_with("feature \"rec_id\": unknown key \"note\""));
    s["features"][0] = json!({"ignored": true});
    assert_eq!(
        err_of(&s),
        "feature at index 0: identifier: required field is missing"
    );
}

#[test]
fn encoder_rejects_what_blake_cannot_do() {
    let mut s = febrl_schema();
    s["clkConfig"]["kdf"]["keySize"] = json!(65);
    let schema = Schema::from_value(&s).unwrap();
    assert!(matches!(
        Encoder::new(&schema, b"x"),
        Err(EncoderError::BlakeKeySize { .. })
    ));
    let mut s = febrl_schema();
    s["clkConfig"]["l"] = json!(1000);
    let schema = Schema::from_value(&s).unwrap();
    assert!(matches!(
        Encoder::new(&schema, b"x"),
        Err(EncoderError::BlakeLength { .. })
    ));
    let mut s = febrl_schema();
    let feature = s["features"][1].clone();
    s["features"] = Value::Array(vec![feature; 64]);
    let schema = Schema::from_value(&s).unwrap();
    assert!(matches!(
        Encoder::new(&schema, b"x"),
        Err(EncoderError::KeyDerivation(_))
    ));
}

fn run_csv(schema: &Schema, csv: &str) -> Result<u64, EncodeError> {
    let encoder = Encoder::new(schema, b"secret").unwrap();
    let options = EncodeOptions {
        threads: 2,
        chunk_rows: 2,
    };
    encode_csv(csv.as_bytes(), &encoder, &options, |_| {}, |_, _| Ok(())).map(|s| s.records)
}

const HEADER: &str = "id,name,name_pos,u16,u32,code,age,weight,dob,sex";

#[test]
fn csv_header_problems() {
    let schema = messy_schema();
    assert!(matches!(
        run_csv(&schema, ""),
        Err(EncodeError::MissingHeader)
    ));
    let missing = "id,name,name_pos,u16,u32,code,age,weight,dob\n";
    let msg = run_csv(&schema, missing).unwrap_err().to_string();
    assert!(
        msg.contains("header has 9 columns, the schema has 10 features")
            && msg.contains("missing column \"sex\""),
        "{msg}"
    );
    let extra = format!("{HEADER},extra\n");
    let msg = run_csv(&schema, &extra).unwrap_err().to_string();
    assert!(msg.contains("unexpected column \"extra\""), "{msg}");
    let reordered = "id,name_pos,name,u16,u32,code,age,weight,dob,sex\n";
    let msg = run_csv(&schema, reordered).unwrap_err().to_string();
    assert!(
        msg.contains("column 2 is \"name_pos\", expected \"name\""),
        "{msg}"
    );
    assert_eq!(run_csv(&schema, &format!("{HEADER}\n")).unwrap(), 0);
}

#[test]
fn csv_row_problems_report_the_first_bad_row() {
    let schema = messy_schema();
    let good = "r,ann,ann,a,b,AB1,42,1.5,01/02/1990,m";
    let csv = format!(
        "{HEADER}\n{good}\n{good}\n{good}\nr,ann,ann,a,b,AB1,4x2,1.5,01/02/1990,m\n{good}\n"
    );
    match run_csv(&schema, &csv) {
        Err(EncodeError::Record {
            row: 4,
            source: RecordError::InvalidValue { feature, message },
        }) => {
            assert_eq!(feature, "age");
            assert!(message.contains("invalid integer"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let csv = format!("{HEADER}\n{good}\nr,ann\n");
    match run_csv(&schema, &csv) {
        Err(EncodeError::Record {
            row: 2,
            source:
                RecordError::WrongLength {
                    expected: 10,
                    found: 2,
                },
        }) => {}
        other => panic!("{other:?}"),
    }
    let bad_values = [
        ("r,ann,ann,a,b,ab1,42,1.5,01/02/1990,m", "code"),
        ("r,ann,ann,a,b,AB1,151,1.5,01/02/1990,m", "age"),
        ("r,ann,ann,a,b,AB1,42,abc,01/02/1990,m", "weight"),
        ("r,ann,ann,a,b,AB1,42,1.5,30/02/1990,m", "dob"),
        ("r,ann,ann,a,b,AB1,42,1.5,01/02/1990,q", "sex"),
    ];
    for (row, feature) in bad_values {
        let err = run_csv(&schema, &format!("{HEADER}\n{row}\n")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("row 1: column \"{feature}\"")),
            "{msg}"
        );
    }
    let invalid_utf8 = [
        HEADER.as_bytes(),
        b"\nr,\xff\xfe,ann,a,b,AB1,42,1.5,01/02/1990,m\n",
    ]
    .concat();
    let encoder = Encoder::new(&schema, b"s").unwrap();
    let err = encode_csv(
        invalid_utf8.as_slice(),
        &encoder,
        &EncodeOptions::default(),
        |_| {},
        |_, _| Ok(()),
    )
    .unwrap_err();
    assert!(matches!(err, EncodeError::Csv { row: 1, .. }), "{err:?}");
}

#[test]
fn sink_errors_stop_encoding() {
    let schema = messy_schema();
    let good = "r,ann,ann,a,b,AB1,42,1.5,01/02/1990,m";
    let csv = format!("{HEADER}\n{good}\n{good}\n");
    let encoder = Encoder::new(&schema, b"s").unwrap();
    let err = encode_csv(
        csv.as_bytes(),
        &encoder,
        &EncodeOptions::default(),
        |_| {},
        |_, _| Err(std::io::Error::other("disk full")),
    )
    .unwrap_err();
    assert!(matches!(err, EncodeError::Io(_)));
}
