//! FEBRL4 A and B × blake and doubleHash schemas, byte-identical to clkhash 0.18.3's output.

use std::path::PathBuf;

use veil_linkage_encoding::{encode_csv, ClkWriter, EncodeOptions, Encoder, OutputFormat, Schema};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn secret() -> Vec<u8> {
    let text = std::fs::read_to_string(data("secret.txt")).unwrap();
    text.strip_suffix('\n').unwrap_or(&text).as_bytes().to_vec()
}

fn check(dataset: &str, schema_name: &str, threads: usize, chunk_rows: usize) {
    let schema = Schema::from_json_str(
        &std::fs::read_to_string(data(&format!("{schema_name}.json"))).unwrap(),
    )
    .unwrap();
    let encoder = Encoder::new(&schema, &secret()).unwrap();
    let csv = std::fs::File::open(data(&format!("febrl4_{dataset}.csv"))).unwrap();
    let mut writer = ClkWriter::new(Vec::new(), OutputFormat::Json).unwrap();
    let options = EncodeOptions {
        threads,
        chunk_rows,
    };
    let summary = encode_csv(csv, &encoder, &options, |_| {}, |_, clk| writer.write(&clk)).unwrap();
    assert_eq!(summary.records, 5000);
    let ours = writer.finish().unwrap();
    let expected = std::fs::read(data(&format!(
        "clkhash-0.18.3.febrl4_{dataset}.{schema_name}.json"
    )))
    .unwrap();
    if ours != expected {
        let parse = |b: &[u8]| -> Vec<String> {
            let v: serde_json::Value = serde_json::from_slice(b).unwrap();
            v["clks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        let (a, b) = (parse(&ours), parse(&expected));
        let bad: Vec<usize> = (0..b.len()).filter(|&i| a.get(i) != b.get(i)).collect();
        panic!(
            "{dataset}/{schema_name}: {} of {} CLKs differ, first rows {:?}",
            bad.len(),
            b.len(),
            &bad[..bad.len().min(10)]
        );
    }
}

#[test]
fn febrl4_a_blake() {
    check("a", "febrl_v3_blake", 2, 997);
}

#[test]
fn febrl4_b_blake() {
    check("b", "febrl_v3_blake", 1, 10_000);
}

#[test]
fn febrl4_a_doublehash() {
    check("a", "febrl_v3_doublehash", 1, 10_000);
}

#[test]
fn febrl4_b_doublehash() {
    check("b", "febrl_v3_doublehash", 3, 128);
}

#[test]
fn single_record_api_matches_stream() {
    let schema =
        Schema::from_json_str(&std::fs::read_to_string(data("febrl_v3_blake.json")).unwrap())
            .unwrap();
    let encoder = Encoder::new(&schema, &secret()).unwrap();
    let record = [
        "rec-1070-org",
        "michaela",
        "neumann",
        "8",
        "stanley street",
        "miami",
        "winston hills",
        "4223",
        "nsw",
        "19151111",
        "5304218",
    ];
    let clk = encoder.encode_record(&record).unwrap();
    assert_eq!(
        clk.to_base64(),
        "CHJRI46DQXT0T+wfsrjlubDfmAsJ3TCcF4MsORpHx97DhxOeV9qhL9NNr8QvemoY1RmBtBcU6v9pMfUcff39gA1syaPSzkpLGw4SGZA7SCoE/RatpiJ+4D7nmBwVQAZXc4IxB+l7KrRpHbmmRFAlldCmDpPhtTCVW1xhL2Y3EGM="
    );
}
