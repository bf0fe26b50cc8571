//! Unit tests of the encoder (kept beside it, in their own file for size).

use std::collections::HashMap;

use super::*;

#[test]
fn token_keys_are_injective() {
    let alphabet = [0u8, 1, b' ', b'a', 0x7f, 0x80, 0xff];
    let mut seen = HashMap::new();
    let mut x = 1u64;
    for len in 0..=TOKEN_KEY_LEN {
        for _ in 0..2000 {
            let token: Vec<u8> = (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(x >> 59) as usize % alphabet.len()]
                })
                .collect();
            let key = token_key(&token).unwrap();
            assert_eq!(*seen.entry(key).or_insert_with(|| token.clone()), token);
        }
    }
    assert!(token_key(&[0; TOKEN_KEY_LEN + 1]).is_none());
}

fn mixed_schema() -> Schema {
    let feature = |name: &str, hash: &str| {
        format!(
            r#"{{"identifier": "{name}", "format": {{"type": "string", "encoding": "utf-8"}},
            "hashing": {{"comparison": {{"type": "ngram", "n": 2}},
            "strategy": {{"bitsPerFeature": 60}}, "hash": {{"type": "{hash}"}}}}}}"#
        )
    };
    Schema::from_json_str(&format!(
        r#"{{"version": 3, "clkConfig": {{"l": 1024, "xorFolds": 1,
        "kdf": {{"type": "HKDF", "hash": "SHA256", "keySize": 64}}}},
        "features": [{}, {}]}}"#,
        feature("a", "blakeHash"),
        feature("b", "doubleHash")
    ))
    .unwrap()
}

/// Memo eviction (more distinct values and tokens than `CACHE_CAPACITY`), long values and
/// scratch reuse between encoders on one thread leave the output unchanged.
#[test]
fn memos_and_scratch_reuse_do_not_change_output() {
    let schema = mixed_schema();
    let warm = Encoder::new(&schema, b"secret").unwrap();
    let (b, c) = (
        Encoder::new(&schema, b"secret").unwrap(),
        Encoder::new(&schema, b"secret").unwrap(),
    );
    let mut x = 7u64;
    let mut rand_text = |len: usize| -> String {
        (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                char::from(b' ' + ((x >> 33) % 95) as u8)
            })
            .collect()
    };
    let n = CACHE_CAPACITY + 300;
    let records: Vec<[String; 2]> = (0..n)
        .map(|i| {
            let len = [1, 2, 7, 15, 16, 40, 70][i % 7];
            // Some values repeat, so memo hits are exercised too.
            let a = if i % 5 == 0 {
                format!("v{}", i % 50)
            } else {
                rand_text(len)
            };
            [a, rand_text(3 + i % 4)]
        })
        .collect();
    let all = || records.iter().chain(records.iter().take(500));
    let warm_clks: Vec<Clk> = all()
        .map(|[a, b]| warm.encode_record(&[a, b]).unwrap())
        .collect();
    for (i, ([a, b_value], warm_clk)) in all().zip(&warm_clks).enumerate() {
        // Alternating `b` and `c` resets the thread's scratch on every record: always cold.
        let cold = if i % 2 == 0 { &b } else { &c };
        assert_eq!(
            &cold.encode_record(&[a, b_value]).unwrap(),
            warm_clk,
            "record {i}"
        );
    }
}

#[test]
fn folding_xors_halves() {
    let mut filter = [0b1010_0000, 0b0110_0000, 0xff, 0x0f];
    let mut out = [0u8; 1];
    fold_into(&mut filter, 2, &mut out);
    assert_eq!(out[0], 0b1010_0000 ^ 0b0110_0000 ^ 0xff ^ 0x0f);
}

#[test]
fn clk_bit_order_is_big_endian() {
    let c = Clk::from_bytes(vec![0x80, 0x01]);
    assert!(c.bit(0) && c.bit(15) && !c.bit(1) && !c.bit(16));
    assert_eq!(c.popcount(), 2);
    assert_eq!(c.len_bits(), 16);
}
