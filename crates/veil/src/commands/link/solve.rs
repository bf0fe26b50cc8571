//! `veil link solve`: candidate pairs → matched groups with anonlink's greedy solver.

use std::path::PathBuf;

use clap::Args;
use veil_linkage_matching::{greedy_solve, read_candidates_csv, write_groups_json};

use super::files::{bad_input, open_input, write_atomically};

/// Arguments of `veil link solve`.
#[derive(Debug, Args)]
#[command(after_help = "\
Reads candidates as written by `veil link compare` (or anonlink), in their file order, and \
writes `{\"groups\": [[[dataset, row], …], …]}`: each group sorted, groups sorted.")]
pub struct SolveArgs {
    /// Candidate pairs CSV (`dataset_a,row_a,dataset_b,row_b,score`).
    pub candidates: PathBuf,
    /// Where to write the groups (JSON).
    #[arg(short = 'o', long = "output", value_name = "GROUPS")]
    pub output: PathBuf,
}

/// Runs `veil link solve`.
pub fn run(args: SolveArgs) -> anyhow::Result<()> {
    let file = open_input(&args.candidates)?;
    let candidates = read_candidates_csv(std::io::BufReader::new(file))
        .map_err(|err| bad_input(&args.candidates, err))?;
    let groups = greedy_solve(&candidates);
    write_atomically(&args.output, |out| {
        write_groups_json(&groups, out)
            .map_err(|err| anyhow::anyhow!("{}: cannot write: {err}", args.output.display()))
    })?;
    let records: usize = groups.iter().map(Vec::len).sum();
    eprintln!(
        "solved {} candidates into {} groups of {records} records, written to {}",
        candidates.len(),
        groups.len(),
        args.output.display()
    );
    Ok(())
}
