//! Measures single-thread encoding throughput.
//!
//! `cargo run --release --example encode_rate -- DATA.csv SCHEMA.json SECRET_FILE [PASSES]`
//!
//! Each pass builds a fresh [`Encoder`] (so the memo caches start empty) and encodes every
//! record on the calling thread; prints the records/s of the first pass in this process
//! (`first_cold_rate`: nothing allocated yet), the median over the passes
//! (`encode_record_rate`: caches empty, but the thread's scratch memory is reused from the
//! previous encoder), the median with caches kept warm from earlier passes
//! (`warm_cache_rate`), and the end-to-end `encode_csv` rate (CSV parsing included) with a
//! one-thread pool.

use std::time::Instant;

use veil_linkage_encoding::{encode_csv, EncodeOptions, Encoder, Schema};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: encode_rate DATA.csv SCHEMA.json SECRET_FILE [PASSES]".into());
    }
    let passes: usize = args.get(4).map_or(Ok(20), |p| p.parse())?;
    let schema = Schema::from_json_str(&std::fs::read_to_string(&args[2])?)?;
    let secret_text = std::fs::read_to_string(&args[3])?;
    let secret = secret_text
        .strip_suffix('\n')
        .unwrap_or(&secret_text)
        .as_bytes()
        .to_vec();
    let csv_bytes = std::fs::read(&args[1])?;
    let mut rdr = csv::Reader::from_reader(csv_bytes.as_slice());
    let records: Vec<csv::StringRecord> = rdr.records().collect::<Result<_, _>>()?;

    let warm_encoder = Encoder::new(&schema, &secret)?;
    let mut rates = Vec::new();
    let mut warm_rates = Vec::new();
    for pass in 0..2 * passes {
        let fresh;
        let encoder = if pass < passes {
            fresh = Encoder::new(&schema, &secret)?;
            &fresh
        } else {
            &warm_encoder
        };
        let start = Instant::now();
        let mut out = vec![0u8; encoder.clk_bytes()];
        for rec in &records {
            encoder.encode_values(rec.len(), rec.iter(), &mut out)?;
            std::hint::black_box(&mut out);
        }
        let rate = records.len() as f64 / start.elapsed().as_secs_f64();
        if pass < passes {
            rates.push(rate);
        } else {
            warm_rates.push(rate);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let first = rates[0];
    let (median, warm) = (median(&mut rates), median(&mut warm_rates));

    let encoder = Encoder::new(&schema, &secret)?;
    let options = EncodeOptions {
        threads: 1,
        chunk_rows: 10_000,
    };
    let start = Instant::now();
    let summary = encode_csv(
        csv_bytes.as_slice(),
        &encoder,
        &options,
        |_| {},
        |_, clk| {
            std::hint::black_box(clk);
            Ok(())
        },
    )?;
    let stream_rate = summary.records as f64 / start.elapsed().as_secs_f64();
    println!(
        "records={} first_cold_rate={first:.0} encode_record_rate={median:.0} warm_cache_rate={warm:.0} encode_csv_1thread_rate={stream_rate:.0}",
        records.len()
    );
    Ok(())
}
