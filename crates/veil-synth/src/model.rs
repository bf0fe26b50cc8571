//! The interface every synthesiser implements, and deterministic parallel
//! sampling on top of it.
//!
//! A model is fitted on a [`PreparedTable`] (so it never sees a rare value)
//! and is plain serde data. To sample, [`SynthModel::sampler`] checks the
//! (possibly deserialised) model once and returns a [`ChunkSampler`]; rows
//! are then drawn in chunks of [`SAMPLE_CHUNK_ROWS`], chunk `i` from its own
//! ChaCha8 stream `i` of the seed, so the output depends on the seed alone,
//! never on the number of threads. [`sample_to_csv`] and
//! [`sample_to_parquet`] write the same rows batch by batch.

use std::io::Write;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::bayes::{BayesNetModel, BayesNetOptions, BayesNetSampler};
use crate::cart::{CartModel, CartOptions, CartSampler};
use crate::copula::{CopulaModel, CopulaOptions, CopulaSampler};
use crate::csv_io::CsvTableWriter;
use crate::error::{Result, SynthError};
use crate::parquet_io::ParquetTableWriter;
use crate::rare::PreparedTable;
use crate::table::Table;

/// Rows per sampling chunk; part of the output's definition, since chunk
/// boundaries decide which random stream draws which row.
pub const SAMPLE_CHUNK_ROWS: usize = 1024;

/// Chunks sampled in parallel before they are written, bounding memory.
pub(crate) const CHUNKS_PER_BATCH: usize = 32;

/// A synthesiser: fitted on a prepared table, serialisable, sampled by chunk.
pub trait SynthModel: Serialize + DeserializeOwned {
    /// Fitting options.
    type Options;
    /// The validated, precomputed form used to sample.
    type Sampler: ChunkSampler;

    /// Fits the model.
    fn fit(table: &PreparedTable, options: &Self::Options) -> Result<Self>;

    /// Checks the model (it may come from an untrusted document) and
    /// prepares sampling.
    fn sampler(&self) -> Result<Self::Sampler>;
}

/// Draws rows of a fitted model. `sample_chunk` must use only `rng` for
/// randomness, so equal seeds give equal rows.
pub trait ChunkSampler: Sync {
    /// The output's column names, in order.
    fn column_names(&self) -> Vec<String>;

    /// Draws `rows` rows.
    fn sample_chunk(&self, rows: usize, rng: &mut ChaCha8Rng) -> Result<Table>;
}

fn chunk_rng(seed: u64, chunk_index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(chunk_index as u64);
    rng
}

fn sample_chunks<S: ChunkSampler>(
    sampler: &S,
    rows: usize,
    seed: u64,
    chunks: std::ops::Range<usize>,
) -> Result<Vec<Table>> {
    chunks
        .into_par_iter()
        .map(|chunk_index| {
            let start = chunk_index * SAMPLE_CHUNK_ROWS;
            let chunk_rows = SAMPLE_CHUNK_ROWS.min(rows - start);
            sampler.sample_chunk(chunk_rows, &mut chunk_rng(seed, chunk_index))
        })
        .collect()
}

/// Samples `rows` rows with `seed`, in parallel on the current rayon pool.
pub fn sample<M: SynthModel>(model: &M, rows: usize, seed: u64) -> Result<Table> {
    let sampler = model.sampler()?;
    let chunk_count = rows.div_ceil(SAMPLE_CHUNK_ROWS);
    let mut chunks = sample_chunks(&sampler, rows, seed, 0..chunk_count)?.into_iter();
    let Some(mut table) = chunks.next() else {
        return sampler.sample_chunk(0, &mut chunk_rng(seed, 0));
    };
    for chunk in chunks {
        table.append(chunk)?;
    }
    Ok(table)
}

/// Samples like [`sample`] and hands the chunks to `each`, a batch of up to
/// [`CHUNKS_PER_BATCH`] chunks at a time, in order.
fn sample_batches<S: ChunkSampler>(
    sampler: &S,
    rows: usize,
    seed: u64,
    mut each: impl FnMut(Vec<Table>) -> Result<()>,
) -> Result<()> {
    let chunk_count = rows.div_ceil(SAMPLE_CHUNK_ROWS);
    let mut first = 0;
    while first < chunk_count {
        let last = (first + CHUNKS_PER_BATCH).min(chunk_count);
        each(sample_chunks(sampler, rows, seed, first..last)?)?;
        first = last;
    }
    Ok(())
}

/// Samples like [`sample`] (same rows for the same seed) and writes them as
/// CSV batch by batch, holding only a few chunks in memory.
pub fn sample_to_csv<M: SynthModel, W: Write>(
    model: &M,
    rows: usize,
    seed: u64,
    writer: W,
) -> Result<W> {
    let sampler = model.sampler()?;
    let mut csv_writer = CsvTableWriter::new(writer, sampler.column_names())?;
    sample_batches(&sampler, rows, seed, |chunks| {
        chunks
            .iter()
            .try_for_each(|chunk| csv_writer.write_rows(chunk))
    })?;
    csv_writer.finish()
}

/// Samples like [`sample`] (same rows for the same seed) and writes them as
/// one Parquet file, a row group per batch of chunks, so that memory holds
/// one batch whatever the row count. The column types are those of
/// [`arrow_field`](crate::arrow_field); the values are those
/// [`sample_to_csv`] writes. With no rows the file has the schema only.
pub fn sample_to_parquet<M: SynthModel, W: Write + Send>(
    model: &M,
    rows: usize,
    seed: u64,
    writer: W,
) -> Result<W> {
    let sampler = model.sampler()?;
    // The schema comes from the first chunk: the writer is made then.
    let mut unused = Some(writer);
    let mut parquet_writer: Option<ParquetTableWriter<W>> = None;
    sample_batches(&sampler, rows, seed, |chunks| {
        for chunk in &chunks {
            let out = match (&mut parquet_writer, unused.take()) {
                (Some(out), _) => out,
                (None, Some(writer)) => {
                    parquet_writer.insert(ParquetTableWriter::new(writer, chunk)?)
                }
                (None, None) => return Err(SynthError::Write("no output".into())),
            };
            out.write_rows(chunk)?;
        }
        match &mut parquet_writer {
            Some(out) => out.end_row_group(),
            None => Ok(()),
        }
    })?;
    match (parquet_writer, unused) {
        (Some(out), _) => out.finish(),
        (None, Some(writer)) => {
            let template = sampler.sample_chunk(0, &mut chunk_rng(seed, 0))?;
            ParquetTableWriter::new(writer, &template)?.finish()
        }
        (None, None) => Err(SynthError::Write("no output".into())),
    }
}

/// Which model to fit, with its options; `{"model": "gaussian-copula"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum ModelSpec {
    /// [`CopulaModel`].
    GaussianCopula(CopulaOptions),
    /// [`CartModel`].
    Cart(CartOptions),
    /// [`BayesNetModel`].
    BayesNet(BayesNetOptions),
}

impl ModelSpec {
    /// Fits the chosen model.
    pub fn fit(&self, table: &PreparedTable) -> Result<AnyModel> {
        match self {
            ModelSpec::GaussianCopula(options) => {
                Ok(AnyModel::GaussianCopula(CopulaModel::fit(table, options)?))
            }
            ModelSpec::Cart(options) => Ok(AnyModel::Cart(CartModel::fit(table, options)?)),
            ModelSpec::BayesNet(options) => {
                Ok(AnyModel::BayesNet(BayesNetModel::fit(table, options)?))
            }
        }
    }
}

/// A fitted model of any kind, serialised with a `"model"` tag naming it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum AnyModel {
    /// A Gaussian copula.
    GaussianCopula(CopulaModel),
    /// Sequential decision trees.
    Cart(CartModel),
    /// A differentially private Bayesian network.
    BayesNet(BayesNetModel),
}

impl AnyModel {
    /// The model as JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|error| SynthError::Model(format!("serialise: {error}")))
    }

    /// Reads a model from JSON and checks it can be sampled.
    pub fn from_json(json: &str) -> Result<AnyModel> {
        let model: AnyModel = serde_json::from_str(json)
            .map_err(|error| SynthError::Model(format!("read model: {error}")))?;
        model.sampler()?;
        Ok(model)
    }
}

/// The sampler of an [`AnyModel`].
pub enum AnySampler {
    /// A Gaussian copula's sampler.
    GaussianCopula(CopulaSampler),
    /// A cart model's sampler.
    Cart(CartSampler),
    /// A Bayesian network's sampler.
    BayesNet(BayesNetSampler),
}

impl ChunkSampler for AnySampler {
    fn column_names(&self) -> Vec<String> {
        match self {
            AnySampler::GaussianCopula(sampler) => sampler.column_names(),
            AnySampler::Cart(sampler) => sampler.column_names(),
            AnySampler::BayesNet(sampler) => sampler.column_names(),
        }
    }

    fn sample_chunk(&self, rows: usize, rng: &mut ChaCha8Rng) -> Result<Table> {
        match self {
            AnySampler::GaussianCopula(sampler) => sampler.sample_chunk(rows, rng),
            AnySampler::Cart(sampler) => sampler.sample_chunk(rows, rng),
            AnySampler::BayesNet(sampler) => sampler.sample_chunk(rows, rng),
        }
    }
}

impl SynthModel for AnyModel {
    type Options = ModelSpec;
    type Sampler = AnySampler;

    fn fit(table: &PreparedTable, options: &ModelSpec) -> Result<Self> {
        options.fit(table)
    }

    fn sampler(&self) -> Result<AnySampler> {
        match self {
            AnyModel::GaussianCopula(model) => Ok(AnySampler::GaussianCopula(model.sampler()?)),
            AnyModel::Cart(model) => Ok(AnySampler::Cart(model.sampler()?)),
            AnyModel::BayesNet(model) => Ok(AnySampler::BayesNet(model.sampler()?)),
        }
    }
}
