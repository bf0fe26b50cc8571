//! Single-thread encoding throughput on FEBRL4 A (5,000 records) with both shipped schemas.
//!
//! `cold`: a fresh `Encoder` per iteration (memo caches start empty, key derivation included).
//! `warm`: one `Encoder` reused, so caches are warm after the first iteration.
//! Criterion reports elements/s = records/s; everything runs on the bench thread.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use veil_linkage_encoding::{Encoder, Schema};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn encode_all(encoder: &Encoder, records: &[csv::StringRecord], out: &mut [u8]) -> u32 {
    let mut ones = 0;
    for rec in records {
        encoder
            .encode_values(rec.len(), rec.iter(), out)
            .expect("valid record");
        ones += out.iter().map(|b| b.count_ones()).sum::<u32>();
    }
    ones
}

fn bench(c: &mut Criterion) {
    let secret_text = std::fs::read_to_string(data("secret.txt")).expect("secret");
    let secret = secret_text.trim_end_matches('\n').as_bytes().to_vec();
    let mut rdr = csv::Reader::from_path(data("febrl4_a.csv")).expect("csv");
    let records: Vec<csv::StringRecord> = rdr.records().collect::<Result<_, _>>().expect("records");

    let mut group = c.benchmark_group("febrl4_a");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.sample_size(20);
    for name in ["febrl_v3_blake", "febrl_v3_doublehash"] {
        let schema = Schema::from_json_str(
            &std::fs::read_to_string(data(&format!("{name}.json"))).expect("schema"),
        )
        .expect("valid schema");
        let warm = Encoder::new(&schema, &secret).expect("encoder");
        let mut out = vec![0u8; warm.clk_bytes()];
        group.bench_function(format!("{name}/cold"), |b| {
            b.iter_batched(
                || Encoder::new(&schema, &secret).expect("encoder"),
                |encoder| encode_all(&encoder, &records, &mut out),
                BatchSize::PerIteration,
            )
        });
        group.bench_function(format!("{name}/warm"), |b| {
            b.iter(|| encode_all(&warm, &records, &mut out))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
