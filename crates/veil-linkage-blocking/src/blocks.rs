//! The result of blocking: each record's list of block ids, with interned keys.

use std::collections::HashMap;

/// Block assignment for one party: record `i` belongs to the blocks
/// `block_indices(i)`, whose textual ids are in `keys()`.
///
/// Stored compactly (interned keys, one flat index array) so that tens of
/// millions of records fit in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocks {
    keys: Vec<String>,
    offsets: Vec<usize>,
    members: Vec<u32>,
}

impl Blocks {
    /// Number of records.
    pub fn num_records(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of distinct block ids.
    pub fn num_blocks(&self) -> usize {
        self.keys.len()
    }

    /// All distinct block ids, indexed by block index.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Block indices of record `i` (empty when out of range).
    pub fn block_indices(&self, i: usize) -> &[u32] {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.members[a..b],
            _ => &[],
        }
    }

    /// Block ids of record `i`, in generation order, without duplicates.
    pub fn record_blocks(&self, i: usize) -> impl Iterator<Item = &str> + '_ {
        self.block_indices(i)
            .iter()
            .map(move |&b| self.keys[b as usize].as_str())
    }

    /// Size (number of records) of every block, indexed by block index.
    pub fn block_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0usize; self.keys.len()];
        for &b in &self.members {
            sizes[b as usize] += 1;
        }
        sizes
    }

    /// Records of every block, indexed by block index.
    pub fn block_members(&self) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.keys.len()];
        for r in 0..self.num_records() {
            for &b in self.block_indices(r) {
                out[b as usize].push(r as u32);
            }
        }
        out
    }
}

/// Incremental construction of [`Blocks`], one record at a time.
#[derive(Debug, Default)]
pub struct BlocksBuilder {
    index: HashMap<String, u32>,
    blocks: Blocks,
}

impl BlocksBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        let mut b = Self::default();
        b.blocks.offsets.push(0);
        b
    }

    fn intern(&mut self, key: String) -> u32 {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.blocks.keys.len() as u32;
        self.blocks.keys.push(key.clone());
        self.index.insert(key, i);
        i
    }

    /// Appends the next record with the given block ids (duplicates are dropped).
    pub fn push_record<I: IntoIterator<Item = String>>(&mut self, keys: I) {
        let start = *self.blocks.offsets.last().unwrap_or(&0);
        for k in keys {
            let id = self.intern(k);
            if !self.blocks.members[start..].contains(&id) {
                self.blocks.members.push(id);
            }
        }
        self.blocks.offsets.push(self.blocks.members.len());
    }

    /// Finishes construction.
    pub fn build(self) -> Blocks {
        self.blocks
    }
}
