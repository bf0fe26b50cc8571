use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use veil_blob::BlobStore;
use veil_domain::{JobId, TaskId};
use veil_seal::{KeyRing, RootKey};
use veil_service::{job_result_key, task_result_key, JobKind, TaskError};

use super::*;
use crate::{DispatchHandlers, DispatchMessage, Source, Sources, MESSAGE_VERSION};

const CANARY_WARD: &str = "Canary-Ward-7731";

/// 200 rows: an identifier, an integer, a categorical with one value in a single row, a float and
/// a boolean.
fn clinic(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("clinic");
    std::fs::create_dir_all(&root).unwrap();
    let mut csv = String::from("patient_id,age,ward,score,smoker\n");
    for i in 0..200 {
        let ward = if i == 17 {
            CANARY_WARD.to_string()
        } else {
            format!("W{}", i % 4)
        };
        csv.push_str(&format!(
            "P-{i:05},{},{ward},{}.25,{}\n",
            20 + i % 60,
            i % 37,
            i % 3 == 0
        ));
    }
    std::fs::write(root.join("people.csv"), &csv).unwrap();
    std::fs::write(root.join("holdout.csv"), &csv).unwrap();
    std::fs::write(dir.join("outside.csv"), &csv).unwrap();
    root
}

fn key_env(key: &RootKey) -> HashMap<String, String> {
    HashMap::from([(
        veil_seal::ROOT_KEY_ENV.to_string(),
        key.to_file_contents().to_string(),
    )])
}

struct Fixture {
    _dir: tempfile::TempDir,
    blobs: Arc<dyn BlobStore>,
    root: std::path::PathBuf,
    key: RootKey,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = clinic(dir.path());
        let blobs = veil_blob::open("memory://", &Default::default()).unwrap();
        Self {
            _dir: dir,
            blobs,
            root,
            key: RootKey::generate().unwrap(),
        }
    }

    fn ring(&self) -> KeyRing {
        KeyRing::from_env_map(&key_env(&self.key)).unwrap()
    }

    fn handlers(&self, keys: RootKeys) -> DispatchHandlers {
        let mut sources = Sources::new();
        sources.insert(
            "clinic",
            Source::Files {
                root: self.root.clone(),
            },
        );
        let mut handlers = DispatchHandlers::new(Arc::clone(&self.blobs), sources);
        handlers.register(Arc::new(SynthTrainTask::new(keys.clone())));
        handlers.register(Arc::new(SynthGenerateTask::new(keys.clone())));
        handlers.register(Arc::new(SynthAnalyseTask::new(keys)));
        handlers
    }

    fn keys(&self) -> RootKeys {
        RootKeys::from_env_map(&key_env(&self.key))
    }

    /// Runs one task of a new job; its result key on success.
    async fn run(
        &self,
        keys: RootKeys,
        kind: &str,
        params: Value,
    ) -> (JobId, Result<String, TaskError>) {
        let job_id = JobId::new_random();
        let result_key = task_result_key(job_id, 0);
        let message = DispatchMessage {
            version: MESSAGE_VERSION,
            task_id: TaskId::for_job(job_id, 0),
            job_id,
            index: 0,
            kind: kind.into(),
            params,
            result_key: result_key.clone(),
        };
        let outcome = self
            .handlers(keys)
            .run_here(message, 1, CancellationToken::new())
            .await
            .map(|()| result_key);
        (job_id, outcome)
    }

    async fn get(&self, key: &str) -> Option<bytes::Bytes> {
        self.blobs.get(key).await.ok()
    }
}

fn train_params(path: &str) -> Value {
    json!({"environment": "local", "source": "clinic", "path": path, "model": "gaussian-copula"})
}

/// Trains and publishes the sealed model as the train job's result (what the hub's final step does).
async fn trained(fixture: &Fixture) -> JobId {
    let (job, outcome) = fixture
        .run(fixture.keys(), SYNTH_TRAIN, train_params("people.csv"))
        .await;
    let key = outcome.unwrap();
    let sealed = fixture.get(&key).await.unwrap();
    fixture
        .blobs
        .put(&job_result_key(job), sealed)
        .await
        .unwrap();
    job
}

#[tokio::test]
async fn train_generate_and_analyse_keep_private_values_in() {
    let fixture = Fixture::new();
    let train_job = trained(&fixture).await;
    let sealed = fixture.get(&job_result_key(train_job)).await.unwrap();
    assert!(veil_seal::is_sealed(&sealed));
    let model = veil_seal::open(&sealed, &fixture.ring(), MODEL_CONTEXT).unwrap();
    let model = String::from_utf8(model).unwrap();
    assert!(
        !model.contains(CANARY_WARD) && !model.contains("P-0"),
        "{model}"
    );

    let params = json!({"model_job": train_job.to_string(), "rows": 3000, "seed": 7});
    let (generate_job, outcome) = fixture.run(fixture.keys(), SYNTH_GENERATE, params).await;
    let summary: Value =
        serde_json::from_slice(&fixture.get(&outcome.unwrap()).await.unwrap()).unwrap();
    assert_eq!(summary["rows"], 3000);
    let csv = fixture
        .get(&staging_key(generate_job, OutputFormat::Csv))
        .await
        .unwrap();
    let csv = String::from_utf8(csv.to_vec()).unwrap();
    assert_eq!(csv.lines().count(), 3001);
    assert!(csv.starts_with("age,ward,score,smoker\n"), "{}", &csv[..40]);
    assert!(!csv.contains(CANARY_WARD) && !csv.contains("P-0"));

    let params = json!({
        "environment": "local", "source": "clinic", "path": "people.csv",
        "synthetic_key": staging_key(generate_job, OutputFormat::Csv), "holdout": "holdout.csv",
    });
    let (_, outcome) = fixture.run(fixture.keys(), SYNTH_ANALYSE, params).await;
    let sealed = fixture.get(&outcome.unwrap()).await.unwrap();
    assert!(veil_seal::open(&sealed, &fixture.ring(), MODEL_CONTEXT).is_err());
    let bundle: Value =
        serde_json::from_slice(&veil_seal::open(&sealed, &fixture.ring(), REPORT_CONTEXT).unwrap())
            .unwrap();
    assert_eq!(bundle["format"], REPORT_FORMAT);
    assert_eq!(bundle["report"]["real_rows"], 200);
    assert_eq!(bundle["report"]["synthetic_rows"], 3000);
    assert!(bundle["html"].as_str().unwrap().contains("<html"));
    assert!(!bundle.to_string().contains(CANARY_WARD));
}

#[tokio::test]
async fn generate_streams_parquet_that_analyse_reads() {
    let fixture = Fixture::new();
    let train_job = trained(&fixture).await;
    let params = json!({
        "model_job": train_job.to_string(), "rows": 3000, "seed": 7, "format": "parquet",
    });
    let (generate_job, outcome) = fixture.run(fixture.keys(), SYNTH_GENERATE, params).await;
    let summary: Value =
        serde_json::from_slice(&fixture.get(&outcome.unwrap()).await.unwrap()).unwrap();
    assert_eq!(
        (&summary["rows"], &summary["format"]),
        (&json!(3000), &json!("parquet"))
    );
    let key = staging_key(generate_job, OutputFormat::Parquet);
    let parquet = fixture.get(&key).await.unwrap();
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
    let table = crate::tables::read_parquet(parquet, &key).unwrap();
    assert_eq!(table.names, ["age", "ward", "score", "smoker"]);
    assert_eq!(table.columns[0].len(), 3000);

    let params = json!({
        "environment": "local", "source": "clinic", "path": "people.csv", "synthetic_key": key,
    });
    let (_, outcome) = fixture.run(fixture.keys(), SYNTH_ANALYSE, params).await;
    let sealed = fixture.get(&outcome.unwrap()).await.unwrap();
    let bundle = veil_seal::open(&sealed, &fixture.ring(), REPORT_CONTEXT).unwrap();
    let bundle: Value = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(bundle["report"]["synthetic_rows"], 3000);
}

#[tokio::test]
async fn paths_outside_the_source_fail_for_good_and_store_nothing() {
    let fixture = Fixture::new();
    for path in ["../outside.csv", "/etc/passwd"] {
        let (_, outcome) = fixture
            .run(fixture.keys(), SYNTH_TRAIN, train_params(path))
            .await;
        let err = outcome.unwrap_err();
        assert!(err.permanent, "{}", err.message);
        assert!(err.message.contains("\"clinic\""), "{}", err.message);
    }
    let params = json!({
        "environment": "local", "source": "clinic", "path": "people.csv",
        "synthetic_key": "x/synthetic.csv", "holdout": "../outside.csv",
    });
    let (job, outcome) = fixture.run(fixture.keys(), SYNTH_ANALYSE, params).await;
    assert!(outcome.unwrap_err().permanent);
    assert!(fixture.get(&task_result_key(job, 0)).await.is_none());
}

#[tokio::test]
async fn column_overrides_are_checked_and_values_are_not_quoted() {
    let fixture = Fixture::new();
    let mut params = train_params("people.csv");
    params["columns"] = json!([{"name": "ward", "kind": "money"}]);
    let err = SynthTrainJob::default().plan(&params).unwrap_err();
    assert!(err.contains("money") && err.contains("params"), "{err}");
    let (_, outcome) = fixture
        .run(fixture.keys(), SYNTH_TRAIN, params.clone())
        .await;
    assert!(outcome.unwrap_err().permanent);

    params["columns"] = json!([{"name": "ward", "kind": "integer"}]);
    let (_, outcome) = fixture
        .run(fixture.keys(), SYNTH_TRAIN, params.clone())
        .await;
    let err = outcome.unwrap_err();
    assert!(
        err.permanent && err.message.contains("\"ward\""),
        "{}",
        err.message
    );
    assert!(
        !err.message.contains("W0") && !err.message.contains(CANARY_WARD),
        "{}",
        err.message
    );

    params["columns"] = json!([{"name": "nope", "exclude": true}]);
    let (_, outcome) = fixture.run(fixture.keys(), SYNTH_TRAIN, params).await;
    assert!(outcome.unwrap_err().message.contains("nope"));
}

#[tokio::test]
async fn wrong_keys_and_corrupt_models_fail_without_output() {
    let fixture = Fixture::new();
    let train_job = trained(&fixture).await;
    let params = json!({"model_job": train_job.to_string(), "rows": 10});

    let other = RootKeys::from_env_map(&key_env(&RootKey::generate().unwrap()));
    let (job, outcome) = fixture.run(other, SYNTH_GENERATE, params.clone()).await;
    let err = outcome.unwrap_err();
    assert!(
        err.permanent && err.message.contains("not in the key ring"),
        "{}",
        err.message
    );
    assert!(fixture
        .get(&staging_key(job, OutputFormat::Csv))
        .await
        .is_none());

    let mut sealed = fixture
        .get(&job_result_key(train_job))
        .await
        .unwrap()
        .to_vec();
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    fixture
        .blobs
        .put(&job_result_key(train_job), sealed.into())
        .await
        .unwrap();
    let (job, outcome) = fixture
        .run(fixture.keys(), SYNTH_GENERATE, params.clone())
        .await;
    let err = outcome.unwrap_err();
    assert!(
        err.permanent && err.message.contains("corrupt"),
        "{}",
        err.message
    );
    assert!(fixture
        .get(&staging_key(job, OutputFormat::Csv))
        .await
        .is_none());
    assert!(fixture.get(&task_result_key(job, 0)).await.is_none());

    let (_, outcome) = fixture
        .run(RootKeys::default(), SYNTH_GENERATE, params)
        .await;
    let err = outcome.unwrap_err();
    assert!(
        err.permanent && err.message.contains("VEIL_ROOT_KEY"),
        "{}",
        err.message
    );
    let (_, outcome) = fixture
        .run(RootKeys::default(), SYNTH_TRAIN, train_params("people.csv"))
        .await;
    assert!(outcome.unwrap_err().message.contains("root key"));
}

#[test]
fn plans_check_parameters() {
    let job = SynthGenerateJob::new(RootKeys::default());
    let id = JobId::new_random().to_string();
    assert_eq!(
        job.plan(&json!({"model_job": id, "rows": 5}))
            .unwrap()
            .len(),
        1
    );
    for bad in [
        json!({"rows": 5}),
        json!({"model_job": id, "model_key": "a/b", "rows": 5}),
        json!({"model_job": "not-a-job", "rows": 5}),
        json!({"model_job": id, "rows": 0}),
        json!({"model_key": "../x", "rows": 5}),
        json!({"model_job": id, "rows": 5, "extra": 1}),
        json!({"model_job": id, "rows": 5, "format": "xlsx"}),
        json!({"model_job": id, "rows": 5, "format": "CSV"}),
    ] {
        assert!(job.plan(&bad).is_err(), "{bad}");
    }
    for format in ["csv", "parquet"] {
        let params = json!({"model_job": id, "rows": 5, "format": format});
        assert!(job.plan(&params).is_ok(), "{params}");
    }
    let parse = |params| GenerateParams::parse(&params).unwrap().format;
    assert_eq!(
        parse(json!({"model_job": id, "rows": 5})),
        OutputFormat::Csv
    );
    let parquet = json!({"model_job": id, "rows": 5, "format": "parquet"});
    assert_eq!(parse(parquet), OutputFormat::Parquet);
    let mut train = train_params("a.csv");
    assert!(SynthTrainJob::default().plan(&train).is_ok());
    train["epsilon"] = json!(1.0);
    assert!(SynthTrainJob::default()
        .plan(&train)
        .unwrap_err()
        .contains("bayes-net"));
    train["model"] = json!("bayes-net");
    assert!(SynthTrainJob::default().plan(&train).is_ok());
    train["model"] = json!("gan");
    assert!(SynthTrainJob::default()
        .plan(&train)
        .unwrap_err()
        .contains("gan"));
    let analyse = json!({"environment": "e", "source": "s", "path": "p", "synthetic_job": id});
    assert!(SynthAnalyseJob::default().plan(&analyse).is_ok());
    assert!(SynthAnalyseJob::default()
        .plan(&json!({"environment": "e", "source": "s", "path": "p"}))
        .is_err());
}

#[tokio::test]
async fn streamed_uploads_store_all_or_nothing() {
    use std::io::Write;
    let blobs = veil_blob::open("memory://", &Default::default()).unwrap();
    let write = |finish: bool| {
        let (mut writer, source, lines) = super::stream::channel(CancellationToken::new());
        let writing = tokio::task::spawn_blocking(move || {
            for row in 0..100_000 {
                writeln!(writer, "{row},some text to fill the chunks").unwrap();
            }
            if finish {
                writer.finish().unwrap();
            }
        });
        (source, lines, writing)
    };
    let (source, lines, writing) = write(false);
    assert!(blobs.put_stream("a/dropped.csv", source).await.is_err());
    writing.await.unwrap();
    assert_eq!(lines.load(std::sync::atomic::Ordering::Relaxed), 100_000);
    assert!(
        blobs.head("a/dropped.csv").await.is_err(),
        "nothing half-written"
    );
    let (source, _, writing) = write(true);
    let stored = blobs.put_stream("a/whole.csv", source).await.unwrap();
    writing.await.unwrap();
    assert_eq!(blobs.get("a/whole.csv").await.unwrap().len() as u64, stored);
    assert!(stored > 3_000_000);
}
