//! Block statistics for one party, and comparison counts across parties.

use std::collections::HashMap;
use std::fmt;

use crate::blocks::Blocks;

/// Size statistics of one party's blocks (blocklib's `reversed_index_stats`
/// plus coverage).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockStats {
    /// Number of records.
    pub num_records: usize,
    /// Number of distinct blocks.
    pub num_blocks: usize,
    /// Smallest block size (0 when there are no blocks).
    pub min_size: usize,
    /// Largest block size.
    pub max_size: usize,
    /// Mean block size.
    pub mean_size: f64,
    /// Median block size (mean of the two middle sizes for an even count).
    pub median_size: f64,
    /// Sample standard deviation of block sizes (0 for fewer than two blocks).
    pub std_size: f64,
    /// Records that belong to no block.
    pub records_without_block: usize,
    /// Id of the largest block.
    pub largest_block: Option<String>,
}

impl BlockStats {
    /// Computes the statistics of `blocks`.
    pub fn of(blocks: &Blocks) -> Self {
        let mut sizes = blocks.block_sizes();
        let largest_block = sizes
            .iter()
            .enumerate()
            .max_by_key(|&(i, s)| (*s, std::cmp::Reverse(i)))
            .map(|(i, _)| blocks.keys()[i].clone());
        sizes.sort_unstable();
        let n = sizes.len();
        let sum: usize = sizes.iter().sum();
        let mean = if n == 0 { 0.0 } else { sum as f64 / n as f64 };
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => sizes[n / 2] as f64,
            _ => (sizes[n / 2 - 1] + sizes[n / 2]) as f64 / 2.0,
        };
        let std = if n < 2 {
            0.0
        } else {
            let var = sizes
                .iter()
                .map(|&s| (s as f64 - mean).powi(2))
                .sum::<f64>()
                / (n - 1) as f64;
            var.sqrt()
        };
        let records_without_block = (0..blocks.num_records())
            .filter(|&r| blocks.block_indices(r).is_empty())
            .count();
        BlockStats {
            num_records: blocks.num_records(),
            num_blocks: n,
            min_size: sizes.first().copied().unwrap_or(0),
            max_size: sizes.last().copied().unwrap_or(0),
            mean_size: mean,
            median_size: median,
            std_size: std,
            records_without_block,
            largest_block,
        }
    }

    /// Fraction of records in at least one block (1 when there are no records).
    pub fn coverage(&self) -> f64 {
        if self.num_records == 0 {
            1.0
        } else {
            1.0 - self.records_without_block as f64 / self.num_records as f64
        }
    }
}

impl fmt::Display for BlockStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Records:            {}", self.num_records)?;
        writeln!(f, "Number of blocks:   {}", self.num_blocks)?;
        writeln!(
            f,
            "Block size min/max: {} / {}",
            self.min_size, self.max_size
        )?;
        writeln!(f, "Block size mean:    {:.4}", self.mean_size)?;
        writeln!(f, "Block size median:  {}", self.median_size)?;
        writeln!(f, "Block size std:     {:.4}", self.std_size)?;
        write!(f, "Coverage:           {:.2}%", self.coverage() * 100.0)?;
        if let Some(b) = &self.largest_block {
            write!(f, "\nLargest block:      {b} ({} records)", self.max_size)?;
        }
        Ok(())
    }
}

/// How many comparisons blocking leaves between parties.
///
/// Parties are compared pairwise (every unordered pair of parties, as the
/// Anonlink Entity Service does). `comparisons_with_repeats` sums
/// `|A_b|·|B_b|` over shared blocks, so a record pair sharing several blocks is
/// counted once per block; `distinct_pairs` counts each record pair once
/// (deduplicated), and is `None` when computing it would exceed the work limit.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonStats {
    /// Records per party.
    pub party_sizes: Vec<usize>,
    /// Comparisons without blocking (sum over party pairs of `|A|·|B|`).
    pub all_pairs: u128,
    /// Block ids present in at least two parties.
    pub shared_blocks: usize,
    /// Sum over party pairs and shared blocks of `|A_b|·|B_b|`.
    pub comparisons_with_repeats: u128,
    /// Distinct record pairs sharing at least one block (deduplicated).
    pub distinct_pairs: Option<u128>,
    /// The shared block with the most comparisons and that number.
    pub largest_block: Option<(String, u128)>,
}

impl ComparisonStats {
    /// Computes comparison counts for two or more parties. Deduplication costs
    /// time proportional to `comparisons_with_repeats`; it is skipped (leaving
    /// `distinct_pairs` as `None`) when that exceeds `max_dedupe_work`.
    pub fn of(parties: &[&Blocks], max_dedupe_work: u128) -> Self {
        let members: Vec<HashMap<&str, Vec<u32>>> = parties
            .iter()
            .map(|p| {
                let mut m: HashMap<&str, Vec<u32>> = HashMap::new();
                for (key, recs) in p.keys().iter().zip(p.block_members()) {
                    m.insert(key.as_str(), recs);
                }
                m
            })
            .collect();
        let mut all_pairs = 0u128;
        let mut repeats = 0u128;
        let mut per_block: HashMap<&str, u128> = HashMap::new();
        for a in 0..parties.len() {
            for b in a + 1..parties.len() {
                all_pairs += parties[a].num_records() as u128 * parties[b].num_records() as u128;
                for (key, ra) in &members[a] {
                    if let Some(rb) = members[b].get(key) {
                        let c = ra.len() as u128 * rb.len() as u128;
                        repeats += c;
                        *per_block.entry(key).or_insert(0) += c;
                    }
                }
            }
        }
        let distinct_pairs = (repeats <= max_dedupe_work).then(|| {
            let mut total = 0u128;
            for a in 0..parties.len() {
                for b in a + 1..parties.len() {
                    total += distinct_pairs(parties[a], &members[b], parties[b].num_records());
                }
            }
            total
        });
        let largest_block = per_block
            .iter()
            .max_by(|x, y| x.1.cmp(y.1).then_with(|| y.0.cmp(x.0)))
            .map(|(k, c)| (k.to_string(), *c));
        ComparisonStats {
            party_sizes: parties.iter().map(|p| p.num_records()).collect(),
            all_pairs,
            shared_blocks: per_block.len(),
            comparisons_with_repeats: repeats,
            distinct_pairs,
            largest_block,
        }
    }

    /// Fraction of all-pairs comparisons removed by blocking (deduplicated when known).
    pub fn reduction_ratio(&self) -> f64 {
        if self.all_pairs == 0 {
            return 0.0;
        }
        let kept = self.distinct_pairs.unwrap_or(self.comparisons_with_repeats);
        1.0 - kept as f64 / self.all_pairs as f64
    }
}

fn distinct_pairs(a: &Blocks, b_members: &HashMap<&str, Vec<u32>>, b_len: usize) -> u128 {
    let mut mark = vec![u32::MAX; b_len];
    let mut total = 0u128;
    for r in 0..a.num_records() {
        for key in a.record_blocks(r) {
            if let Some(rb) = b_members.get(key) {
                for &x in rb {
                    if mark[x as usize] != r as u32 {
                        mark[x as usize] = r as u32;
                        total += 1;
                    }
                }
            }
        }
    }
    total
}

impl fmt::Display for ComparisonStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Parties (records):  {:?}", self.party_sizes)?;
        writeln!(f, "All-pairs comparisons:        {}", self.all_pairs)?;
        writeln!(f, "Shared blocks:                {}", self.shared_blocks)?;
        writeln!(
            f,
            "Comparisons (per block sum):  {}",
            self.comparisons_with_repeats
        )?;
        match self.distinct_pairs {
            Some(d) => writeln!(f, "Distinct candidate pairs:     {d}")?,
            None => writeln!(f, "Distinct candidate pairs:     (not computed, too many)")?,
        }
        write!(
            f,
            "Reduction ratio:              {:.6}",
            self.reduction_ratio()
        )?;
        if let Some((k, c)) = &self.largest_block {
            write!(f, "\nLargest shared block:         {k} ({c} comparisons)")?;
        }
        Ok(())
    }
}
