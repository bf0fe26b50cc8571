//! `veil link gen`: deterministic FEBRL4-style test data (two datasets and their ground truth).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use veil_linkage_datagen::{generate, GenError, GeneratorConfig};

use super::files::AtomicFile;
use super::{parse_threads, rate, thread_count, threads_label, usage};

/// Dataset A's file name inside the output directory.
pub const DATASET_A_FILE: &str = "a.csv";
/// Dataset B's file name inside the output directory.
pub const DATASET_B_FILE: &str = "b.csv";
/// The ground truth's file name inside the output directory.
pub const TRUTH_FILE: &str = "truth.csv";

/// Arguments of `veil link gen`.
#[derive(Debug, Args)]
#[command(after_help = "\
Writes three files into DIR (created if missing; existing files replaced atomically):
  a.csv      dataset A: N person records, columns rec_id,given_name,surname,street_number,
             address_1,address_2,suburb,postcode,state,date_of_birth,soc_sec_id (FEBRL4's, so
             the febrl_v3 linkage schemas encode it)
  b.csv      dataset B: N records, corrupted copies of A's records (typos, missing values,
             swapped names, nicknames, swapped day/month, digit errors) in shuffled order
  truth.csv  rec_id_a,rec_id_b,row_a,row_b: the true matches, 0-based data rows, by row_a

The output depends only on --records and --seed, never on --threads.")]
pub struct GenArgs {
    /// Records per dataset.
    #[arg(long, value_name = "N")]
    pub records: u64,
    /// Seed: the same seed and record count give byte-identical files.
    #[arg(long, value_name = "S")]
    pub seed: u64,
    /// Output directory.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
    /// Worker threads (default: one per available core).
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,
}

/// Runs `veil link gen`.
pub fn run(args: GenArgs) -> anyhow::Result<()> {
    if args.output.exists() && !args.output.is_dir() {
        return Err(usage(format!(
            "{}: exists and is not a directory",
            args.output.display()
        )));
    }
    std::fs::create_dir_all(&args.output)
        .map_err(|err| usage(format!("{}: cannot create: {err}", args.output.display())))?;
    let config = GeneratorConfig {
        records: args.records,
        seed: args.seed,
        ..GeneratorConfig::default()
    };
    let threads = thread_count(args.threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start worker threads: {err}"))?;
    let paths = [DATASET_A_FILE, DATASET_B_FILE, TRUTH_FILE].map(|name| args.output.join(name));
    let [mut file_a, mut file_b, mut truth] = [
        AtomicFile::create(&paths[0])?,
        AtomicFile::create(&paths[1])?,
        AtomicFile::create(&paths[2])?,
    ];
    let started = Instant::now();
    let summary = pool
        .install(|| {
            generate(
                &config,
                file_a.writer(),
                file_b.writer(),
                truth.writer(),
                |_| {},
            )
        })
        .map_err(|err| match err {
            GenError::InvalidConfig { .. } => usage(err.to_string()),
            GenError::Io { .. } => anyhow::anyhow!("{}: {err}", args.output.display()),
        })?;
    file_a.commit()?;
    file_b.commit()?;
    truth.commit()?;
    let elapsed = started.elapsed();
    eprintln!(
        "generated {} + {} records with {} true matches in {:.2} s ({:.0} records/s, {}): {}, {}, {}",
        summary.records_a,
        summary.records_b,
        summary.matches,
        elapsed.as_secs_f64(),
        rate((summary.records_a + summary.records_b) as f64, elapsed),
        threads_label(threads),
        paths[0].display(),
        paths[1].display(),
        paths[2].display(),
    );
    Ok(())
}
