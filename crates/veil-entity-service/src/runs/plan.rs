//! Splitting a run into comparison tasks. Pure: no I/O.
//!
//! A [`Unit`] is a set of record pairs compared together: a slice of one party's records against a
//! slice of another's (every record of both parties without blocking; the members of one block with
//! it). Units larger than the chunk size are split along the first party's records, then units are
//! packed in order into tasks of about `chunk` comparisons each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Records of one party that a unit compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rows {
    /// Rows `start..end`.
    Range {
        /// First row.
        start: u32,
        /// One past the last row.
        end: u32,
    },
    /// These rows, ascending.
    List(Vec<u32>),
}

impl Rows {
    /// How many rows.
    pub fn len(&self) -> u64 {
        match self {
            Rows::Range { start, end } => u64::from(end.saturating_sub(*start)),
            Rows::List(rows) => rows.len() as u64,
        }
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows, ascending.
    pub fn iter(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match self {
            Rows::Range { start, end } => Box::new(*start..*end),
            Rows::List(rows) => Box::new(rows.iter().copied()),
        }
    }

    /// Splits into consecutive pieces of at most `size` rows.
    fn split(self, size: u64) -> Vec<Rows> {
        let size = size.max(1);
        if self.len() <= size {
            return vec![self];
        }
        match self {
            Rows::Range { start, end } => {
                let step = u32::try_from(size).unwrap_or(u32::MAX);
                let mut pieces = Vec::new();
                let mut at = start;
                while at < end {
                    let stop = at.saturating_add(step).min(end);
                    pieces.push(Rows::Range {
                        start: at,
                        end: stop,
                    });
                    at = stop;
                }
                pieces
            }
            Rows::List(rows) => rows
                .chunks(usize::try_from(size).unwrap_or(usize::MAX))
                .map(|piece| Rows::List(piece.to_vec()))
                .collect(),
        }
    }
}

/// Record pairs compared together: `rows_a` of party `a` against `rows_b` of party `b` (`a < b`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// The first party.
    pub a: u32,
    /// The second party.
    pub b: u32,
    /// The first party's records.
    pub rows_a: Rows,
    /// The second party's records.
    pub rows_b: Rows,
}

impl Unit {
    /// Record pairs in the unit.
    pub fn comparisons(&self) -> u64 {
        self.rows_a.len().saturating_mul(self.rows_b.len())
    }
}

/// A run's tasks: the units of each task, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Each task's units.
    pub tasks: Vec<Vec<Unit>>,
}

impl Plan {
    /// Comparisons per task.
    pub fn task_comparisons(&self) -> Vec<u64> {
        self.tasks
            .iter()
            .map(|units| units.iter().map(Unit::comparisons).sum())
            .collect()
    }

    /// Comparisons in the whole plan (record pairs in several shared blocks count once per block).
    pub fn total_comparisons(&self) -> u64 {
        self.task_comparisons().iter().sum()
    }
}

/// Every pair of parties `a < b` compared in full, for a project without blocking.
pub fn all_pairs(counts: &[u32], chunk: u64) -> Plan {
    let mut units = Vec::new();
    for (a, &count_a) in counts.iter().enumerate() {
        for (b, &count_b) in counts.iter().enumerate().skip(a + 1) {
            if count_a == 0 || count_b == 0 {
                continue;
            }
            units.push(Unit {
                a: a as u32,
                b: b as u32,
                rows_a: Rows::Range {
                    start: 0,
                    end: count_a,
                },
                rows_b: Rows::Range {
                    start: 0,
                    end: count_b,
                },
            });
        }
    }
    pack(split_large(units, chunk), chunk)
}

/// The members of each block, per party: block id → ascending rows.
pub type PartyBlocks = BTreeMap<String, Vec<u32>>;

/// Every block that two parties share, compared member against member.
pub fn blocked(parties: &[PartyBlocks], chunk: u64) -> Plan {
    let mut units = Vec::new();
    for (a, blocks_a) in parties.iter().enumerate() {
        for (b, blocks_b) in parties.iter().enumerate().skip(a + 1) {
            for (id, rows_a) in blocks_a {
                let Some(rows_b) = blocks_b.get(id) else {
                    continue;
                };
                if rows_a.is_empty() || rows_b.is_empty() {
                    continue;
                }
                units.push(Unit {
                    a: a as u32,
                    b: b as u32,
                    rows_a: Rows::List(rows_a.clone()),
                    rows_b: Rows::List(rows_b.clone()),
                });
            }
        }
    }
    pack(split_large(units, chunk), chunk)
}

/// Inverts a blocks map (record index → block ids) into block id → ascending rows.
pub fn invert_blocks(blocks: &BTreeMap<String, Vec<String>>) -> Result<PartyBlocks, String> {
    let mut out: PartyBlocks = BTreeMap::new();
    for (record, ids) in blocks {
        let row: u32 = record
            .parse()
            .map_err(|_| format!("block map names record '{record}', which is not an index"))?;
        for id in ids {
            out.entry(id.clone()).or_default().push(row);
        }
    }
    for rows in out.values_mut() {
        rows.sort_unstable();
        rows.dedup();
    }
    Ok(out)
}

/// Splits units of more than `chunk` comparisons along their first party's rows.
fn split_large(units: Vec<Unit>, chunk: u64) -> Vec<Unit> {
    let mut out = Vec::with_capacity(units.len());
    for unit in units {
        if unit.comparisons() <= chunk {
            out.push(unit);
            continue;
        }
        let rows_per_piece = (chunk / unit.rows_b.len().max(1)).max(1);
        let Unit {
            a,
            b,
            rows_a,
            rows_b,
        } = unit;
        for piece in rows_a.split(rows_per_piece) {
            out.push(Unit {
                a,
                b,
                rows_a: piece,
                rows_b: rows_b.clone(),
            });
        }
    }
    out
}

/// Packs units in order into tasks of at least `chunk` comparisons (the last may hold fewer).
fn pack(units: Vec<Unit>, chunk: u64) -> Plan {
    let mut tasks = Vec::new();
    let mut current = Vec::new();
    let mut size = 0u64;
    for unit in units {
        size = size.saturating_add(unit.comparisons());
        current.push(unit);
        if size >= chunk {
            tasks.push(std::mem::take(&mut current));
            size = 0;
        }
    }
    if !current.is_empty() {
        tasks.push(current);
    }
    Plan { tasks }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    /// Every (a, row_a, b, row_b) pair the plan compares, with multiplicity.
    fn pairs(plan: &Plan) -> Vec<(u32, u32, u32, u32)> {
        let mut out = Vec::new();
        for unit in plan.tasks.iter().flatten() {
            for ra in unit.rows_a.iter() {
                for rb in unit.rows_b.iter() {
                    out.push((unit.a, ra, unit.b, rb));
                }
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn small_projects_are_one_task() {
        let plan = all_pairs(&[10, 20, 5], 1_000_000);
        assert_eq!(plan.tasks.len(), 1);
        assert_eq!(plan.total_comparisons(), 10 * 20 + 10 * 5 + 20 * 5);
    }

    #[test]
    fn large_pairs_split_into_chunks() {
        let plan = all_pairs(&[1000, 1000], 100_000);
        assert_eq!(plan.tasks.len(), 10);
        assert!(plan.task_comparisons().iter().all(|&c| c == 100_000));
    }

    proptest! {
        #[test]
        fn all_pairs_covers_every_pair_once(
            counts in prop::collection::vec(0u32..30, 2..4),
            chunk in 1u64..500,
        ) {
            let plan = all_pairs(&counts, chunk);
            let got = pairs(&plan);
            let mut want = Vec::new();
            for a in 0..counts.len() {
                for b in a + 1..counts.len() {
                    for ra in 0..counts[a] {
                        for rb in 0..counts[b] {
                            want.push((a as u32, ra, b as u32, rb));
                        }
                    }
                }
            }
            want.sort_unstable();
            prop_assert_eq!(got, want);
            for task in plan.task_comparisons() {
                prop_assert!(task > 0);
            }
        }

        #[test]
        fn blocked_covers_exactly_the_pairs_sharing_a_block(
            assignments in prop::collection::vec(
                prop::collection::vec(prop::collection::btree_set(0u8..6, 0..3), 0..25), 2..4),
            chunk in 1u64..200,
        ) {
            let parties: Vec<PartyBlocks> = assignments
                .iter()
                .map(|records| {
                    let map: BTreeMap<String, Vec<String>> = records
                        .iter()
                        .enumerate()
                        .map(|(i, ids)| (i.to_string(), ids.iter().map(|id| id.to_string()).collect()))
                        .collect();
                    invert_blocks(&map).unwrap()
                })
                .collect();
            let plan = blocked(&parties, chunk);
            let got: BTreeSet<_> = pairs(&plan).into_iter().collect();
            let mut want = BTreeSet::new();
            for a in 0..assignments.len() {
                for b in a + 1..assignments.len() {
                    for (ra, ids_a) in assignments[a].iter().enumerate() {
                        for (rb, ids_b) in assignments[b].iter().enumerate() {
                            if !ids_a.is_disjoint(ids_b) {
                                want.insert((a as u32, ra as u32, b as u32, rb as u32));
                            }
                        }
                    }
                }
            }
            prop_assert_eq!(got, want);
        }
    }
}
