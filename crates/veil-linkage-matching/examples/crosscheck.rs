//! Cross-check helper: `crosscheck THRESHOLD K|none OUT_CSV OUT_GROUPS CLKS1.json CLKS2.json ...`
//! writes the candidate CSV and the greedy groups JSON for comparison with anonlink.

use std::fs::File;

use veil_linkage_matching::{
    find_candidate_pairs, greedy_solve, write_candidates_csv, write_groups_json, ClkSet,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        return Err("usage: crosscheck THRESHOLD K|none OUT_CSV OUT_GROUPS CLKS.json...".into());
    }
    let t: f64 = args[0].parse()?;
    let k = if args[1] == "none" {
        None
    } else {
        Some(args[1].parse()?)
    };
    let sets = args[4..]
        .iter()
        .map(|p| ClkSet::from_clk_json(File::open(p)?, None).map_err(Into::into))
        .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
    let refs: Vec<&ClkSet> = sets.iter().collect();
    let c = find_candidate_pairs(&refs, t, k, 2)?;
    write_candidates_csv(&c, File::create(&args[2])?)?;
    write_groups_json(&greedy_solve(&c), File::create(&args[3])?)?;
    Ok(())
}
