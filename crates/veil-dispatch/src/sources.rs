//! Private sources: named places only the dispatcher can read. A task names a source and a path in
//! it; where the source is (and any credential it needs) is configured on the dispatcher alone and
//! never appears in messages, status or errors.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::DispatchError;

/// One private source.
#[derive(Clone, PartialEq, Eq)]
pub enum Source {
    /// Files (CSV) under a root directory.
    Files {
        /// The directory; tasks name paths relative to it.
        root: PathBuf,
    },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Files { .. } => f.write_str("Files { root: [kept on the dispatcher] }"),
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
        let Some(Source::Files { root }) = self.sources.get(name) else {
            return Err(DispatchError::UnknownSource(name.to_string()));
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
}

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
