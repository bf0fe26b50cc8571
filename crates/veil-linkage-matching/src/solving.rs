//! Greedy solver (anonlink 0.15.3 `greedy_solve`) and Entity-Service style outputs.
//!
//! # Greedy semantics
//! Candidates are visited in the given order (anonlink's: score descending). Each record
//! `(dataset, row)` belongs to at most one group.
//! * Neither record grouped: they form a new group of two.
//! * One grouped: if its group is a singleton, the other joins; otherwise the other becomes
//!   a singleton group and one link is recorded between the two groups.
//! * Both grouped in different groups: the link count between the groups goes up by one;
//!   when it equals `|g0| * |g1|` (every cross pair seen) the groups merge, the larger one
//!   absorbing the smaller (the first record's group on ties), and their links combine.
//! * A pair whose records are identical or already share a group is skipped.
//!
//! Only groups of two or more records are returned, each sorted by `(dataset, row)`.
//! anonlink returns groups in the iteration order of a C++ hash set keyed by heap
//! addresses, which is not reproducible; this crate returns groups sorted by their records
//! (equal to the reference as a set of groups).

use std::collections::HashMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::candidates::Candidates;
use crate::error::{MatchError, Result};

/// A record: `(dataset index, row index)`.
pub type Record = (u32, u32);

/// Groups of matched records.
pub type Groups = Vec<Vec<Record>>;

struct Solver {
    group_of: HashMap<Record, usize>,
    members: Vec<Vec<Record>>,
    links: Vec<HashMap<usize, usize>>,
}

impl Solver {
    fn new_group(&mut self, recs: Vec<Record>) -> usize {
        let g = self.members.len();
        for &r in &recs {
            self.group_of.insert(r, g);
        }
        self.members.push(recs);
        self.links.push(HashMap::new());
        g
    }

    fn link(&mut self, g0: usize, g1: usize) -> usize {
        *self.links[g1].entry(g0).or_default() += 1;
        let c = self.links[g0].entry(g1).or_default();
        *c += 1;
        *c
    }

    fn merge(&mut self, absorber: usize, absorbee: usize) {
        let moved = std::mem::take(&mut self.members[absorbee]);
        for &r in &moved {
            self.group_of.insert(r, absorber);
        }
        self.members[absorber].extend(moved);
        self.links[absorber].remove(&absorbee);
        let other = std::mem::take(&mut self.links[absorbee]);
        for (g, n) in other {
            if g == absorber {
                continue;
            }
            *self.links[absorber].entry(g).or_default() += n;
            let l = &mut self.links[g];
            l.remove(&absorbee);
            *l.entry(absorber).or_default() += n;
        }
    }

    fn pair(&mut self, i0: Record, i1: Record) {
        if i0 == i1 {
            return;
        }
        match (
            self.group_of.get(&i0).copied(),
            self.group_of.get(&i1).copied(),
        ) {
            (None, None) => {
                self.new_group(vec![i0, i1]);
            }
            (Some(g), None) | (None, Some(g)) => {
                let other = if self.group_of.contains_key(&i0) {
                    i1
                } else {
                    i0
                };
                if self.members[g].len() == 1 {
                    self.members[g].push(other);
                    self.group_of.insert(other, g);
                } else {
                    let s = self.new_group(vec![other]);
                    self.link(g, s);
                }
            }
            (Some(g0), Some(g1)) => {
                if g0 == g1 {
                    return;
                }
                let overlap = self.link(g0, g1);
                let (n0, n1) = (self.members[g0].len(), self.members[g1].len());
                if overlap == n0 * n1 {
                    if n0 < n1 {
                        self.merge(g1, g0);
                    } else {
                        self.merge(g0, g1);
                    }
                }
            }
        }
    }
}

/// anonlink's `greedy_solve` on candidates given in order (see the module docs).
pub fn greedy_solve(candidates: &Candidates) -> Groups {
    let mut s = Solver {
        group_of: HashMap::new(),
        members: Vec::new(),
        links: Vec::new(),
    };
    for c in candidates.iter() {
        s.pair((c.dataset_a, c.row_a), (c.dataset_b, c.row_b));
    }
    let mut groups: Groups = s
        .members
        .into_iter()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort_unstable();
            g
        })
        .collect();
    groups.sort_unstable();
    groups
}

#[derive(Serialize, Deserialize)]
struct GroupsDoc {
    groups: Groups,
}

/// Write `{"groups": [[[d, r], ...], ...]}` with Python `json.dumps` spacing (`", "`, `": "`),
/// no trailing newline, as in the reference files.
pub fn write_groups_json<W: Write>(groups: &Groups, mut w: W) -> Result<()> {
    let mut s = String::with_capacity(groups.len() * 24 + 16);
    s.push_str("{\"groups\": [");
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('[');
        for (j, (d, r)) in g.iter().enumerate() {
            if j > 0 {
                s.push_str(", ");
            }
            s.push_str(&format!("[{d}, {r}]"));
        }
        s.push(']');
    }
    s.push_str("]}");
    w.write_all(s.as_bytes())?;
    Ok(())
}

/// Read a groups JSON document.
pub fn read_groups_json<R: Read>(r: R) -> Result<Groups> {
    let doc: GroupsDoc = serde_json::from_reader(r).map_err(|e| MatchError::Json(e.to_string()))?;
    Ok(doc.groups)
}

/// `(row_a, row_b)` pairs of a two-party matching; errors on any group that is not exactly
/// one record of dataset 0 and one of dataset 1 (like anonlink's `pairs_from_groups`).
pub fn pairs_from_groups(groups: &Groups) -> Result<Vec<(u32, u32)>> {
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let mut g = g.clone();
        g.sort_unstable();
        match g.as_slice() {
            [(0, a), (1, b)] => out.push((*a, *b)),
            _ => {
                return Err(MatchError::InvalidArgument(format!(
                "non-bipartite group {g:?}: only 2-party groups of one record each are supported"
            )))
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Entity-Service `permutations` result for a two-party project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermutationResult {
    /// Party A's permutation: row `i` of A goes to position `permutation_a[i]`.
    pub permutation_a: Vec<u32>,
    /// Party B's permutation: row `j` of B goes to position `permutation_b[j]`.
    pub permutation_b: Vec<u32>,
    /// `min(len_a, len_b)` entries: 1 where the position holds a matched pair, else 0.
    pub mask: Vec<u8>,
}

/// SplitMix64, a small deterministic generator for reproducible permutations.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// The Entity Service's permutation algorithm: matched pairs take the same random positions
/// in both permutations (positions below `min(len_a, len_b)`, flagged in the mask); other
/// rows fill the remaining positions at random. Deterministic for a given `seed` (the
/// service itself uses an unseeded RNG, so only the shape and invariants are comparable).
pub fn permutations(
    pairs: &[(u32, u32)],
    len_a: usize,
    len_b: usize,
    seed: u64,
) -> Result<PermutationResult> {
    let small = len_a.min(len_b);
    if pairs.len() > small {
        return Err(MatchError::InvalidArgument(format!(
            "{} pairs cannot fit into {small} positions",
            pairs.len()
        )));
    }
    let mut rng = SplitMix(seed);
    let mut pos: Vec<u32> = (0..small as u32).collect();
    rng.shuffle(&mut pos);
    let mut perm_a = vec![u32::MAX; len_a];
    let mut perm_b = vec![u32::MAX; len_b];
    let mut mask = vec![0u8; small];
    for (&(a, b), &p) in pairs.iter().zip(&pos) {
        let (a, b) = (a as usize, b as usize);
        if a >= len_a || b >= len_b || perm_a[a] != u32::MAX || perm_b[b] != u32::MAX {
            return Err(MatchError::InvalidArgument(format!(
                "pair ({a}, {b}) is out of range or reuses a row"
            )));
        }
        perm_a[a] = p;
        perm_b[b] = p;
        mask[p as usize] = 1;
    }
    let rest = &pos[pairs.len()..];
    for (perm, len) in [(&mut perm_a, len_a), (&mut perm_b, len_b)] {
        let mut free: Vec<u32> = rest
            .iter()
            .copied()
            .chain(small as u32..len as u32)
            .collect();
        rng.shuffle(&mut free);
        for slot in perm.iter_mut().filter(|s| **s == u32::MAX) {
            *slot = free.pop().unwrap_or(u32::MAX);
        }
    }
    Ok(PermutationResult {
        permutation_a: perm_a,
        permutation_b: perm_b,
        mask,
    })
}

/// Entity-Service style `similarity_scores` entry: `[[dataset, row], [dataset, row], score]`.
pub type SimilarityScore = (Record, Record, f64);

/// All candidates as `similarity_scores` entries, in candidate order.
pub fn similarity_scores(candidates: &Candidates) -> Vec<SimilarityScore> {
    candidates
        .iter()
        .map(|c| ((c.dataset_a, c.row_a), (c.dataset_b, c.row_b), c.score))
        .collect()
}
