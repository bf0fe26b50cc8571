//! `source.profile`: the first task that runs in a secure environment. It reads a private table and
//! returns only aggregates: the row count and, per column, its name, inferred type, how many cells
//! are missing and how many distinct values it has (reported only from 10 up, so that a small count
//! cannot single anyone out). No cell value ever leaves.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Value};

use veil_service::TaskError;

use crate::synth::{EnvironmentJob, EnvironmentTaskParams};
use crate::{DispatchContext, DispatchTask};

/// The task and job kind.
pub const SOURCE_PROFILE: &str = "source.profile";

/// Distinct counts below this are not reported.
const MIN_REPORTED_DISTINCT: usize = 10;
/// Distinct values are counted up to this many per column, then reported as "at least".
const DISTINCT_CAP: usize = 100_000;

/// The parameters `source.profile` needs: `environment`, `source` and `path`.
pub struct SourceProfileParams;

impl EnvironmentTaskParams for SourceProfileParams {
    const KIND: &'static str = SOURCE_PROFILE;

    fn check(params: &Value) -> Result<(), String> {
        for name in ["environment", "source", "path"] {
            string_param(params, name)?;
        }
        Ok(())
    }
}

/// The hub's job kind: one task for the named environment; the job's result is the profile.
pub type SourceProfileJob = EnvironmentJob<SourceProfileParams>;

fn string_param<'a>(params: &'a Value, name: &str) -> Result<&'a str, String> {
    params
        .get(name)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| format!("params.{name} must be a non-empty string"))
}

/// The dispatcher's handler.
pub struct SourceProfileTask;

#[derive(Default)]
struct ColumnStats {
    missing: u64,
    integer: bool,
    float: bool,
    boolean: bool,
    distinct: HashSet<u64>,
    capped: bool,
}

impl ColumnStats {
    fn new() -> Self {
        Self {
            integer: true,
            float: true,
            boolean: true,
            ..Self::default()
        }
    }

    fn add(&mut self, cell: &str) {
        let cell = cell.trim();
        if cell.is_empty() {
            self.missing += 1;
            return;
        }
        self.integer &= cell.parse::<i64>().is_ok();
        self.float &= cell.parse::<f64>().is_ok();
        self.boolean &= matches!(
            cell.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no"
        );
        if self.distinct.len() < DISTINCT_CAP {
            let mut hasher = DefaultHasher::new();
            cell.hash(&mut hasher);
            self.distinct.insert(hasher.finish());
        } else {
            self.capped = true;
        }
    }

    fn kind(&self, rows: u64) -> &'static str {
        if rows == self.missing {
            "empty"
        } else if self.boolean {
            "boolean"
        } else if self.integer {
            "integer"
        } else if self.float {
            "float"
        } else {
            "text"
        }
    }

    fn distinct(&self) -> Value {
        match self.distinct.len() {
            n if self.capped => json!(format!("at least {n}")),
            n if n < MIN_REPORTED_DISTINCT => json!(format!("fewer than {MIN_REPORTED_DISTINCT}")),
            n => json!(n),
        }
    }
}

/// Profiles a CSV file; `progress` is called every 10,000 rows.
pub fn profile_csv<R: std::io::Read>(
    reader: R,
    mut progress: impl FnMut(u64),
) -> Result<Value, TaskError> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|err| TaskError::permanent(format!("the file has no readable header row: {err}")))?
        .clone();
    let mut columns: Vec<ColumnStats> = headers.iter().map(|_| ColumnStats::new()).collect();
    let mut rows = 0u64;
    for record in csv.records() {
        let record = record.map_err(|err| {
            let row = err.position().map_or(rows + 2, |p| p.line());
            TaskError::permanent(format!("row {row}: {}", err.kind_summary()))
        })?;
        for (stats, cell) in columns.iter_mut().zip(record.iter()) {
            stats.add(cell);
        }
        rows += 1;
        if rows.is_multiple_of(10_000) {
            progress(rows);
        }
    }
    let described: Vec<Value> = headers
        .iter()
        .zip(&columns)
        .map(|(name, stats)| {
            json!({
                "name": name,
                "type": stats.kind(rows),
                "missing": stats.missing,
                "distinct": stats.distinct(),
            })
        })
        .collect();
    Ok(json!({"rows": rows, "columns": described}))
}

trait KindSummary {
    fn kind_summary(&self) -> String;
}

impl KindSummary for csv::Error {
    /// The error without cell contents (csv's messages can quote them).
    fn kind_summary(&self) -> String {
        match self.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("{len} fields where the header has {expected_len}")
            }
            csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
            csv::ErrorKind::Io(_) => "the file could not be read".to_string(),
            _ => "malformed CSV".to_string(),
        }
    }
}

#[async_trait]
impl DispatchTask for SourceProfileTask {
    fn kind(&self) -> &'static str {
        SOURCE_PROFILE
    }

    async fn run(&self, ctx: &DispatchContext) -> Result<Bytes, TaskError> {
        let params = &ctx.message.params;
        let source = string_param(params, "source").map_err(TaskError::permanent)?;
        let path = string_param(params, "path").map_err(TaskError::permanent)?;
        let file = ctx
            .sources
            .file(source, path)
            .map_err(|err| TaskError::permanent(err.to_string()))?;
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let reading = tokio::task::spawn_blocking(move || {
            let reader = std::fs::File::open(&file)
                .map_err(|_| TaskError::retryable("the file could not be opened"))?;
            profile_csv(std::io::BufReader::new(reader), |rows| {
                let _ = sender.send(rows);
            })
        });
        tokio::pin!(reading);
        let mut profile = loop {
            tokio::select! {
                done = &mut reading => break done.map_err(|err| TaskError::retryable(err.to_string()))??,
                Some(rows) = receiver.recv() => ctx.report_progress(rows, None, Some("rows read")),
                _ = ctx.cancel.cancelled() => return Err(TaskError::retryable("cancelled")),
            }
        };
        profile["source"] = json!(source);
        profile["path"] = json!(path);
        Ok(Bytes::from(profile.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use veil_service::JobKind;

    use super::*;

    #[test]
    fn profiles_hold_aggregates_and_no_values() {
        let mut csv = String::from("id,name,age,smoker,score\n");
        for i in 0..50 {
            let age = if i % 10 == 0 {
                String::new()
            } else {
                (20 + i % 7).to_string()
            };
            csv.push_str(&format!("{i},Person{i},{age},{},{}.5\n", i % 2 == 0, i));
        }
        let profile = profile_csv(csv.as_bytes(), |_| {}).unwrap();
        assert_eq!(profile["rows"], 50);
        let columns = profile["columns"].as_array().unwrap();
        let kinds: Vec<&str> = columns
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["integer", "text", "integer", "boolean", "float"]);
        assert_eq!(columns[2]["missing"], 5);
        assert_eq!(columns[0]["distinct"], 50);
        assert_eq!(columns[3]["distinct"], "fewer than 10");
        let text = profile.to_string();
        assert!(!text.contains("Person"), "no cell value leaves: {text}");
    }

    #[test]
    fn malformed_rows_are_named_without_their_contents() {
        let err = profile_csv("a,b\n1,2\nsecret-value\n".as_bytes(), |_| {}).unwrap_err();
        assert!(err.permanent);
        assert!(err.message.contains("row 3"), "{}", err.message);
        assert!(!err.message.contains("secret-value"), "{}", err.message);
    }

    #[test]
    fn plans_need_environment_source_and_path() {
        let job = SourceProfileJob::default();
        let ok = json!({"environment": "local", "source": "clinic", "path": "a.csv"});
        assert_eq!(job.plan(&ok).unwrap().len(), 1);
        for missing in ["environment", "source", "path"] {
            let mut params = ok.clone();
            params.as_object_mut().unwrap().remove(missing);
            assert!(job.plan(&params).unwrap_err().contains(missing));
        }
    }
}
