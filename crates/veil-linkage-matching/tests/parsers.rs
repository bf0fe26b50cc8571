//! Malformed outside input gives specific errors, never a panic.

use veil_linkage_matching::clk::ClkSet;
use veil_linkage_matching::{eval, read_candidates_csv, read_groups_json, MatchError};

#[test]
fn bad_base64_names_the_clk() {
    let json = br#"{"clks": ["AAAA", "!!notbase64"]}"#;
    match ClkSet::from_clk_json(&json[..], None) {
        Err(MatchError::BadBase64 { index: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn mixed_lengths_name_the_clk() {
    let json = br#"{"clks": ["AAAA", "AAAA", "AAAAAA=="]}"#;
    match ClkSet::from_clk_json(&json[..], None) {
        Err(MatchError::MixedLengths {
            index: 2,
            expected: 3,
            found: 4,
        }) => {}
        other => panic!("{other:?}"),
    }
    match ClkSet::from_clk_json(&br#"{"clks": ["AAAA"]}"#[..], Some(128)) {
        Err(MatchError::MixedLengths {
            index: 0,
            expected: 128,
            found: 3,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_json_and_lengths() {
    assert!(matches!(
        ClkSet::from_clk_json(&b"{\"clk\": []}"[..], None),
        Err(MatchError::Json(_))
    ));
    assert!(matches!(
        ClkSet::from_clk_json(&b"not json"[..], None),
        Err(MatchError::Json(_))
    ));
    assert!(matches!(
        ClkSet::from_clk_json(&b"{\"clks\": [\"\"]}"[..], None),
        Err(MatchError::BadClkLength { bytes: 0, .. })
    ));
    assert!(matches!(
        ClkSet::new(1025),
        Err(MatchError::BadClkLength { bytes: 1025, .. })
    ));
    assert!(matches!(
        ClkSet::from_clk_json(&b"{\"clks\": []}"[..], None),
        Err(MatchError::InvalidArgument(_))
    ));
    let empty = ClkSet::from_clk_json(&b"{\"clks\": []}"[..], Some(128)).unwrap();
    assert!(empty.is_empty());
}

#[test]
fn binary_clks() {
    let raw: Vec<u8> = (0..=255u8).collect();
    let set = ClkSet::from_binary(&raw[..], 16).unwrap();
    assert_eq!(set.len(), 16);
    assert!(matches!(
        ClkSet::from_binary(&raw[..], 15),
        Err(MatchError::TruncatedBinary {
            len: 256,
            clk_bytes: 15
        })
    ));
    assert!(matches!(
        ClkSet::from_binary(&raw[..], 0),
        Err(MatchError::BadClkLength { .. })
    ));
    assert!(matches!(
        ClkSet::from_binary(&raw[..], 2048),
        Err(MatchError::BadClkLength { .. })
    ));
}

#[test]
fn candidate_datasets_must_share_length() {
    let a = ClkSet::from_bytes([[1u8; 8]]).unwrap();
    let b = ClkSet::from_bytes([[1u8; 16]]).unwrap();
    let err = veil_linkage_matching::find_candidate_pairs(&[&a, &b], 0.5, None, 1).unwrap_err();
    assert!(matches!(
        err,
        MatchError::DatasetLengthMismatch {
            dataset: 1,
            expected: 8,
            found: 16
        }
    ));
    assert!(veil_linkage_matching::find_candidate_pairs(&[&a, &a], 0.5, None, 0).is_err());
}

#[test]
fn bad_csv_rows_are_named() {
    let h = "dataset_a,row_a,dataset_b,row_b,score\n";
    let cases = [
        (format!("{h}0,1,1,2,0.5\n0,x,1,2,0.5\n"), 3),
        (format!("{h}0,1,1,2\n"), 2),
        (format!("{h}0,1,1,2,0.5\n0,1,1,2,0.5\n0,1,1,2,abc\n"), 4),
        (format!("{h}0,-1,1,2,0.5\n"), 2),
        (format!("{h}0,1,1,2,nan\n"), 2),
    ];
    for (text, line) in cases {
        match read_candidates_csv(text.as_bytes()) {
            Err(MatchError::BadCsvRow { line: l, .. }) => assert_eq!(l, line, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    assert!(matches!(
        read_candidates_csv(&b"a,b\n"[..]),
        Err(MatchError::BadCsvHeader { .. })
    ));
    assert!(read_candidates_csv(h.as_bytes()).unwrap().is_empty());
    let err = read_candidates_csv(format!("{h}0,x,1,2,0.5\n").as_bytes()).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn bad_groups_and_truth() {
    assert!(matches!(
        read_groups_json(&b"{\"groups\": [[1]]}"[..]),
        Err(MatchError::Json(_))
    ));
    assert!(matches!(
        eval::read_truth_csv(&b"row_a\n1\n"[..]),
        Err(MatchError::BadCsvRow { line: 1, .. })
    ));
    assert!(matches!(
        eval::read_truth_csv(&b"row_a,row_b\n1,2\n3,z\n"[..]),
        Err(MatchError::BadCsvRow { line: 3, .. })
    ));
}
