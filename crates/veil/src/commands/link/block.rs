//! `veil link block`: CLKs → blocks with a blocklib blocking schema, written as the Anonlink
//! Entity Service's `clknblocks` upload.

use std::path::PathBuf;

use clap::Args;
use veil_linkage_blocking::{
    block_clks, block_records, write_clknblocks, BlockStats, BlockingSchema, Blocks, Clks,
};

use super::files::{bad_input, open_input, write_atomically};

/// Arguments of `veil link block`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without --records, the CLKs themselves are blocked: that needs a lambda-fold Hamming LSH schema \
with `\"input-clks\": true` (blocklib's blocking-schema JSON, version 1). With --records DATA.csv \
(the CSV the CLKs were encoded from, same rows in the same order), the records are blocked instead: \
P-Sig, or lambda-fold with `\"input-clks\": false`. Writes \
`{\"clknblocks\": [[\"<clk>\", \"<block id>\", …], …]}` (one entry per CLK, in order) and \
prints block statistics on stderr.")]
pub struct BlockArgs {
    /// CLKs in clkhash's JSON format (`{"clks": [base64, …]}`).
    pub clks: PathBuf,
    /// The blocking schema (blocklib JSON, version 1, lambda-fold with `input-clks: true`).
    pub schema: PathBuf,
    /// Block the records of this CSV (header required; row i is CLK i) instead of the CLKs:
    /// needed for P-Sig schemas. The CSV never leaves this machine; only block ids are written.
    #[arg(long, value_name = "DATA.csv")]
    pub records: Option<PathBuf>,
    /// Where to write the CLKs with their block ids (JSON).
    #[arg(short = 'o', long = "output", value_name = "CLKNBLOCKS")]
    pub output: PathBuf,
}

/// Runs `veil link block`.
pub fn run(args: BlockArgs) -> anyhow::Result<()> {
    let schema_text = std::io::read_to_string(open_input(&args.schema)?)
        .map_err(|err| bad_input(&args.schema, err))?;
    let schema =
        BlockingSchema::from_json_str(&schema_text).map_err(|err| bad_input(&args.schema, err))?;
    let clks =
        Clks::read_json(open_input(&args.clks)?).map_err(|err| bad_input(&args.clks, err))?;
    let blocks = match &args.records {
        Some(records) => block_csv_records(&schema, &args.schema, records, clks.len())?,
        // A schema that cannot block CLKs (P-Sig, `input-clks: false`) is the schema's fault; a
        // CLK too short for the sampled bits is the CLK file's. The library names the CLK index.
        None => block_clks(&schema, &clks).map_err(|err| match err {
            veil_linkage_blocking::BlockingError::Clk { .. } => bad_input(&args.clks, err),
            other => bad_input(&args.schema, other),
        })?,
    };
    write_atomically(&args.output, |out| {
        write_clknblocks(out, &clks.encoded, &blocks)
            .map_err(|err| anyhow::anyhow!("{}: cannot write: {err}", args.output.display()))
    })?;
    eprintln!("{}", BlockStats::of(&blocks));
    eprintln!(
        "blocked {} CLKs into {} blocks, written to {}",
        clks.len(),
        blocks.num_blocks(),
        args.output.display()
    );
    Ok(())
}

/// Blocks the rows of a CSV file, which must hold exactly one row per CLK.
fn block_csv_records(
    schema: &BlockingSchema,
    schema_path: &std::path::Path,
    records: &std::path::Path,
    clk_count: usize,
) -> anyhow::Result<Blocks> {
    let mut reader = csv::Reader::from_reader(open_input(records)?);
    let header: Vec<String> = reader
        .headers()
        .map_err(|err| bad_input(records, err))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::with_capacity(clk_count);
    for (index, row) in reader.records().enumerate() {
        let row = row.map_err(|err| bad_input(records, format!("row {}: {err}", index + 1)))?;
        rows.push(row.iter().map(str::to_string).collect::<Vec<_>>());
    }
    if rows.len() != clk_count {
        return Err(bad_input(
            records,
            format!(
                "has {} records but the CLK file has {clk_count} CLKs",
                rows.len()
            ),
        ));
    }
    block_records(schema, Some(&header), &rows).map_err(|err| match err {
        veil_linkage_blocking::BlockingError::MissingColumn { .. } => bad_input(records, err),
        other => bad_input(schema_path, other),
    })
}
