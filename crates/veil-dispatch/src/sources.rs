//! Private sources: named places only the dispatcher can read. A task names a source and a path in
//! it; where the source is (and any credential it needs) is configured on the dispatcher alone and
//! never appears in messages, status or errors.
//!
//! [`Sources::file`] resolves a file of a files source; [`Sources::read_table`] reads a table of any
//! source (CSV or Parquet files, PostgreSQL tables, CSV or Parquet objects in S3) as text columns.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use secrecy::SecretString;
use veil_synth::RawTable;

use crate::tables::{self, TableFormat};
use crate::DispatchError;

/// One private source.
#[derive(Clone)]
pub enum Source {
    /// Files (CSV or Parquet) under a root directory.
    Files {
        /// The directory; tasks name paths relative to it.
        root: PathBuf,
    },
    /// Tables of a PostgreSQL database, read with the dispatcher's own connection string.
    Postgres {
        /// `postgres://…`, possibly with a password.
        url: SecretString,
        /// Tables with more rows than this are refused (never silently cut short).
        max_rows: Option<u64>,
    },
    /// Objects (CSV or Parquet) in an S3 bucket under a key prefix, read with the dispatcher's own
    /// credentials (held inside `store`). Build one with [`Source::s3`].
    S3 {
        /// The bucket.
        store: Arc<dyn ObjectStore>,
        /// Key prefix without leading or trailing `/`; tasks name keys relative to it.
        prefix: String,
    },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Files { .. } => f.write_str("Files { root: [kept on the dispatcher] }"),
            Source::Postgres { max_rows, .. } => write!(
                f,
                "Postgres {{ url: [kept on the dispatcher], max_rows: {max_rows:?} }}"
            ),
            Source::S3 { .. } => {
                f.write_str("S3 { bucket, prefix and credentials: [kept on the dispatcher] }")
            }
        }
    }
}

/// The sources a dispatcher may read, by name.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    sources: BTreeMap<String, Source>,
}

impl Sources {
    /// No sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the source `name`.
    pub fn insert(&mut self, name: impl Into<String>, source: Source) {
        self.sources.insert(name.into(), source);
    }

    /// The names of the configured sources.
    pub fn names(&self) -> Vec<&str> {
        self.sources.keys().map(String::as_str).collect()
    }

    /// The file `path` of source `name`: a relative path that stays inside the source's root, also
    /// after symbolic links are followed.
    pub fn file(&self, name: &str, path: &str) -> Result<PathBuf, DispatchError> {
        let refused = |reason: &str| DispatchError::Path {
            source_name: name.to_string(),
            reason: reason.to_string(),
        };
        let root = match self.sources.get(name) {
            Some(Source::Files { root }) => root,
            Some(_) => return Err(refused("not a file source")),
            None => return Err(DispatchError::UnknownSource(name.to_string())),
        };
        let relative = Path::new(path);
        if path.is_empty() || relative.is_absolute() {
            return Err(refused("the path must be relative to the source"));
        }
        if relative
            .components()
            .any(|part| !matches!(part, Component::Normal(_)))
        {
            return Err(refused("the path may not contain `..` or `.`"));
        }
        let root = root
            .canonicalize()
            .map_err(|_| refused("the source's root is not readable on this dispatcher"))?;
        let full = root
            .join(relative)
            .canonicalize()
            .map_err(|_| refused(&format!("no file {path:?} in this source")))?;
        if !full.starts_with(&root) {
            return Err(refused("the path leads outside the source"));
        }
        Ok(full)
    }

    /// Reads the table `path` of source `name` as text columns for the synth kernel.
    ///
    /// For files and S3 objects `path` is a relative path or key ending in `.csv` (with a header
    /// row) or `.parquet`; for PostgreSQL it names a table, `table` or `schema.table` (letters,
    /// digits and `_`, matched case-sensitively). Missing values (NULLs) read as empty strings.
    pub async fn read_table(&self, name: &str, path: &str) -> Result<RawTable, DispatchError> {
        let failed = |reason: String| DispatchError::Read {
            source_name: name.to_string(),
            reason,
        };
        match self.sources.get(name) {
            None => Err(DispatchError::UnknownSource(name.to_string())),
            Some(Source::Files { .. }) => {
                let format = TableFormat::of(path).map_err(|reason| DispatchError::Path {
                    source_name: name.to_string(),
                    reason,
                })?;
                let full = self.file(name, path)?;
                let shown = path.to_string();
                let read = tokio::task::spawn_blocking(move || {
                    let file = std::fs::File::open(&full)
                        .map_err(|error| format!("cannot open {shown:?} ({})", error.kind()))?;
                    match format {
                        TableFormat::Csv => tables::read_csv(std::io::BufReader::new(file), &shown),
                        TableFormat::Parquet => tables::read_parquet(file, &shown),
                    }
                });
                read.await
                    .map_err(|_| failed("the reader stopped unexpectedly".into()))?
                    .map_err(failed)
            }
            Some(Source::Postgres { url, max_rows }) => {
                crate::postgres_source::read_table(url, *max_rows, path)
                    .await
                    .map_err(failed)
            }
            Some(Source::S3 { store, prefix }) => {
                crate::s3_source::read_table(store.as_ref(), prefix, path)
                    .await
                    .map_err(|error| match error {
                        crate::s3_source::ReadError::Refused(reason) => DispatchError::Path {
                            source_name: name.to_string(),
                            reason,
                        },
                        crate::s3_source::ReadError::Failed(reason) => failed(reason),
                    })
            }
        }
    }
}

#[cfg(test)]
#[path = "sources_tests.rs"]
mod read_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_resolve_inside_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("clinic");
        std::fs::create_dir_all(root.join("2026")).unwrap();
        std::fs::write(root.join("2026/people.csv"), "a\n1\n").unwrap();
        std::fs::write(dir.path().join("secret.csv"), "x\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.csv"), root.join("link.csv")).unwrap();
        let mut sources = Sources::new();
        sources.insert("clinic", Source::Files { root: root.clone() });

        let found = sources.file("clinic", "2026/people.csv").unwrap();
        assert!(found.ends_with("2026/people.csv"));
        for bad in [
            "../secret.csv",
            "/etc/passwd",
            "",
            "./2026/people.csv",
            "link.csv",
            "nope.csv",
        ] {
            let err = sources.file("clinic", bad).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("\"clinic\""), "{bad}: {text}");
            assert!(
                !text.contains(&*dir.path().to_string_lossy()),
                "root leaked: {text}"
            );
        }
        let err = sources.file("bank", "x.csv").unwrap_err();
        assert!(matches!(err, DispatchError::UnknownSource(_)));
        assert!(!format!("{sources:?}").contains(&*root.to_string_lossy()));
    }
}
