use proptest::prelude::*;

use super::*;

fn message(result: Result<ValidUpload, UploadError>) -> String {
    match result {
        Err(UploadError::Invalid(message)) => message,
        other => panic!("expected an invalid upload, got {other:?}"),
    }
}

#[test]
fn clks_decode_and_concatenate() {
    let upload = parse(br#"{"clks": ["AAE=", "AgM="]}"#, false).unwrap();
    assert_eq!(upload.encodings, vec![0, 1, 2, 3]);
    let p = upload.parsed;
    assert_eq!((p.count, p.size, p.block_count), (2, 2, 1));
}

#[test]
fn invalid_uploads_are_named() {
    let err = message(parse(br#"{"clks": ["AAE=", "!!"]}"#, false));
    assert!(err.contains("encoding 1"), "{err}");
    let err = message(parse(br#"{"clks": ["AAE=", "AAEC"]}"#, false));
    assert!(err.contains("same length"), "{err}");
    for body in [
        &br#"{"clks": []}"#[..],
        br#"{}"#,
        br#"[1]"#,
        br#"{"clks": ["AAE="], "encodings": ["AAE="]}"#,
        br#"{"clks": ["AAE="]} trailing"#,
        br#"{"clks": ["AAE=""#,
        br#"{"clks": [1]}"#,
    ] {
        message(parse(body, false));
    }
    let err = message(parse(
        br#"{"encodings": {"file": {"bucket": "b", "path": "p"}}}"#,
        false,
    ));
    assert!(err.contains("object store"), "{err}");
}

#[test]
fn blocking_shapes() {
    let upload = parse(
        br#"{"clknblocks": [["AAE=", "1", 2], ["AgM=", "1"]]}"#,
        true,
    )
    .unwrap();
    assert_eq!(upload.parsed.block_count, 2);
    let upload = parse(br#"{"blocks": {"0": ["x"]}, "encodings": ["AAE="]}"#, true).unwrap();
    assert_eq!(upload.parsed.blocks.unwrap()["0"], vec!["x".to_string()]);
    message(parse(
        br#"{"encodings": ["AAE="], "blocks": {"1": ["x"]}}"#,
        true,
    ));
    message(parse(br#"{"encodings": ["AAE="]}"#, true));
    message(parse(br#"{"clknblocks": [["AAE="]]}"#, true));
    message(parse(br#"{"clks": ["AAE="]}"#, true));
    message(parse(br#"{"clknblocks": [["AAE=", "1"]]}"#, false));
    message(parse(
        br#"{"encodings": ["AAE="], "blocks": {"0": ["x"]}}"#,
        false,
    ));
}

/// A reader that hands out its bytes a few at a time, as a network body does.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(3);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

proptest! {
    #[test]
    fn any_valid_clks_round_trip(
        clks in prop::collection::vec(prop::collection::vec(any::<u8>(), 16), 1..20),
        padded in any::<bool>(),
    ) {
        let engine = if padded {
            base64::engine::general_purpose::STANDARD
        } else {
            base64::engine::general_purpose::STANDARD_NO_PAD
        };
        let body = serde_json::json!({"clks": clks.iter().map(|c| engine.encode(c)).collect::<Vec<_>>()});
        let text = body.to_string();
        let mut sink = Vec::new();
        let parsed = parse_into(Trickle(text.as_bytes()), false, &mut sink).unwrap();
        prop_assert_eq!(parsed.count, clks.len());
        prop_assert_eq!(sink, clks.concat());
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..200), blocking in any::<bool>()) {
        let _ = parse(&body, blocking);
    }
}
