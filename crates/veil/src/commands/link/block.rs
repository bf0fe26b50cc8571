//! `veil link block`: CLKs → blocks with a blocklib blocking schema, written as the Anonlink
//! Entity Service's `clknblocks` upload.

use std::path::PathBuf;

use clap::Args;
use veil_linkage_blocking::{block_clks, write_clknblocks, BlockStats, BlockingSchema, Clks};

use super::files::{bad_input, open_input, write_atomically};

/// Arguments of `veil link block`.
#[derive(Debug, Args)]
#[command(after_help = "\
CLKs can only be blocked with a lambda-fold Hamming LSH schema with `\"input-clks\": true` \
(blocklib's blocking-schema JSON, version 1); P-Sig needs the raw records. Writes \
`{\"clknblocks\": [[\"<clk>\", \"<block id>\", …], …]}` (one entry per CLK, in order) and \
prints block statistics on stderr.")]
pub struct BlockArgs {
    /// CLKs in clkhash's JSON format (`{"clks": [base64, …]}`).
    pub clks: PathBuf,
    /// The blocking schema (blocklib JSON, version 1, lambda-fold with `input-clks: true`).
    pub schema: PathBuf,
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
    // A schema that cannot block CLKs (P-Sig, `input-clks: false`) is the schema's fault; a
    // CLK too short for the sampled bits is the CLK file's. The library names the CLK index.
    let blocks = block_clks(&schema, &clks).map_err(|err| match err {
        veil_linkage_blocking::BlockingError::Clk { .. } => bad_input(&args.clks, err),
        other => bad_input(&args.schema, other),
    })?;
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
