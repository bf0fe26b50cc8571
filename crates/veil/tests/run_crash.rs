//! An Entity Service linkage run survives its only worker being SIGKILLed mid-run: a fresh worker
//! finishes it, and the groups equal those the matching engine computes directly on the same
//! encodings.
//!
//! Size: `VEIL_CRASH_TEST_RECORDS` records per party (default 10 000). Binary: `VEIL_BIN` when set
//! (see `common::veil_binary`). For 100 000 records build the test itself optimised too, since it
//! runs the whole comparison again in-process (unoptimised, that dominates the test's time):
//! `VEIL_CRASH_TEST_RECORDS=100000 cargo test --release -p veil --test run_crash -- --nocapture`,
//! or against a given binary with `VEIL_BIN=target/release/veil` added.
//! The timings it prints are for the performance notes; nothing here asserts a duration.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{free_port, short_lease_env, start_server, start_worker, Process};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use veil_client::VeilClient;
use veil_domain::{JobFilter, JobId, TaskState};
use veil_linkage_matching::{find_candidate_pairs, greedy_solve, ClkSet};

const THRESHOLD: f64 = 0.8;
const CLK_BYTES: usize = 128;
/// About this many comparison tasks per run, so the kill lands with most of the run still to do.
const TARGET_TASKS: usize = 24;
const DEFAULT_RECORDS: usize = 10_000;
/// How long the run may take to reach the kill window, and then to complete.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// A group of `(party, row)` records, sorted.
type Group = Vec<(u32, u32)>;

fn records_per_party() -> usize {
    let Ok(text) = std::env::var("VEIL_CRASH_TEST_RECORDS") else {
        return DEFAULT_RECORDS;
    };
    let records: usize = text
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("VEIL_CRASH_TEST_RECORDS must be a whole number, not {text:?}"));
    assert!(
        records >= 10 * TARGET_TASKS,
        "VEIL_CRASH_TEST_RECORDS must be at least {}",
        10 * TARGET_TASKS
    );
    records
}

/// Comparisons per task: a whole number of party B's records, so that each slice of party A is one
/// task of exactly this size (the planner packs slices into tasks of *at least* the chunk size).
fn chunk_comparisons(records: usize) -> u64 {
    ((records / TARGET_TASKS).max(1) * records) as u64
}

fn flip_random_bits(rng: &mut StdRng, clk: &mut [u8], flips: usize) {
    for _ in 0..flips {
        let bit = rng.gen_range(0..CLK_BYTES * 8);
        clk[bit / 8] ^= 1 << (bit % 8);
    }
}

/// Both parties' concatenated encodings. Party A: `records` random encodings, 2% of them noisy
/// copies of other A records (duplicates within a party make the greedy solver choose). Party B, in
/// shuffled order: A's first 70% with a few bits flipped each, plus fresh encodings.
fn generate_parties(records: usize) -> [Vec<u8>; 2] {
    let mut rng = StdRng::seed_from_u64(0x7e11_c2a5);
    let mut party_a: Vec<Vec<u8>> = (0..records)
        .map(|_| {
            let mut clk = vec![0u8; CLK_BYTES];
            rng.fill(clk.as_mut_slice());
            clk
        })
        .collect();
    for _ in 0..records / 50 {
        let (original, copy) = (rng.gen_range(0..records), rng.gen_range(0..records));
        let mut duplicate = party_a[original].clone();
        let flips = rng.gen_range(10..60);
        flip_random_bits(&mut rng, &mut duplicate, flips);
        party_a[copy] = duplicate;
    }
    let shared = records * 7 / 10;
    let mut party_b: Vec<Vec<u8>> = party_a[..shared]
        .iter()
        .map(|clk| {
            let mut noisy = clk.clone();
            let flips = rng.gen_range(1..40);
            flip_random_bits(&mut rng, &mut noisy, flips);
            noisy
        })
        .collect();
    party_b.extend((shared..records).map(|_| {
        let mut clk = vec![0u8; CLK_BYTES];
        rng.fill(clk.as_mut_slice());
        clk
    }));
    party_b.shuffle(&mut rng);
    [party_a.concat(), party_b.concat()]
}

/// The groups the matching engine finds on the same encodings, in one process.
fn engine_groups(parties: &[Vec<u8>; 2]) -> BTreeSet<Group> {
    let sets: Vec<ClkSet> = parties
        .iter()
        .map(|bytes| ClkSet::from_bytes(bytes.chunks_exact(CLK_BYTES)).unwrap())
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let candidates = find_candidate_pairs(&[&sets[0], &sets[1]], THRESHOLD, None, threads).unwrap();
    greedy_solve(&candidates).into_iter().collect()
}

fn groups_of(result: &Value) -> BTreeSet<Group> {
    result["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("the result has no groups array: {result}"))
        .iter()
        .map(|group| {
            let mut records: Group = serde_json::from_value(group.clone())
                .unwrap_or_else(|err| panic!("group {group} is not [[party, row], …]: {err}"));
            records.sort_unstable();
            records
        })
        .collect()
}

/// The Entity Service API at `{base}/api/v1`.
struct EntityApi {
    http: reqwest::Client,
    base: String,
}

impl EntityApi {
    /// Sends `request` and returns its JSON body, panicking on a non-success status.
    async fn json(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.expect("reach the server");
        let status = response.status();
        let body = response.text().await.expect("read the response body");
        assert!(status.is_success(), "HTTP {status}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|err| panic!("not JSON ({err}): {body}"))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, token);
        }
        self.json(request).await
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .header(AUTHORIZATION, token);
        self.json(request).await
    }

    async fn upload_binary(&self, project_id: &str, token: &str, encodings: Vec<u8>) {
        let request = self
            .http
            .post(format!("{}/projects/{project_id}/binaryclks", self.base))
            .header(AUTHORIZATION, token)
            .header("Hash-Count", (encodings.len() / CLK_BYTES).to_string())
            .header("Hash-Size", CLK_BYTES.to_string())
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(encodings);
        self.json(request).await;
    }
}

/// One poll of a run's status.
#[derive(Debug, Clone)]
struct Observation {
    state: String,
    stage: i64,
    absolute: i64,
    relative: f64,
}

/// Every status poll of one run, checking that reported progress never goes backwards.
struct RunWatch<'a> {
    api: &'a EntityApi,
    status_path: String,
    result_token: String,
    polls: Vec<Observation>,
}

impl RunWatch<'_> {
    async fn poll(&mut self) -> Observation {
        let status = self.api.get(&self.status_path, &self.result_token).await;
        let stage = &status["current_stage"];
        let observation = Observation {
            state: status["state"].as_str().unwrap_or_default().to_string(),
            stage: stage["number"].as_i64().unwrap_or(0),
            absolute: stage["progress"]["absolute"].as_i64().unwrap_or(0),
            relative: stage["progress"]["relative"].as_f64().unwrap_or(0.0),
        };
        if let Some(previous) = self.polls.last() {
            assert!(
                (observation.stage, observation.absolute) >= (previous.stage, previous.absolute),
                "progress went backwards from {previous:?} to {observation:?}"
            );
        }
        assert_ne!(observation.state, "error", "the run failed: {status}");
        self.polls.push(observation.clone());
        observation
    }
}

/// The last lines of a process's log, for failure messages.
fn log_tail(name: &str, process: &Process) -> String {
    let output = process.output();
    let lines: Vec<&str> = output.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    format!("--- {name} ({}) ---\n{tail}\n", process.log.display())
}

/// The platform job computing the run (the only `linkage.run` job on this fresh server).
async fn run_job(client: &VeilClient) -> Option<JobId> {
    let filter = JobFilter {
        kind: Some("linkage.run".into()),
        ..JobFilter::default()
    };
    let jobs = client.list_jobs(&filter).await.expect("list jobs");
    assert!(jobs.len() <= 1, "one linkage job expected: {jobs:?}");
    jobs.first().map(|job| job.id)
}

/// Waits until the run is mid-way through its comparisons and the victim holds a task, then
/// SIGKILLs the victim. Returns the run's job and when the victim was killed.
async fn kill_mid_run(
    watch: &mut RunWatch<'_>,
    client: &VeilClient,
    victim: &mut Process,
    server: &Process,
) -> (JobId, Instant) {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let observation = watch.poll().await;
        assert_ne!(
            observation.state,
            "completed",
            "the run completed before the victim could be killed; lower \
             VEIL_LINKAGE_CHUNK_COMPARISONS\n{}",
            log_tail("victim", victim)
        );
        assert!(
            Instant::now() < deadline,
            "the run made no progress: {observation:?}\n{}{}",
            log_tail("server", server),
            log_tail("victim", victim)
        );
        let mid_run = observation.state == "running"
            && observation.stage == 2
            && observation.relative > 0.0
            && observation.relative < 1.0;
        if mid_run {
            // The victim is the only worker and runs one task at a time: a running task is its own.
            if let Some(job_id) = run_job(client).await {
                let tasks = client.describe_job(job_id).await.unwrap().tasks;
                if tasks.iter().any(|task| task.state == TaskState::Running) {
                    victim.kill();
                    return (job_id, Instant::now());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linkage_run_survives_its_worker_killed_mid_run() {
    let records = records_per_party();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut env = short_lease_env(&dir.path().join("data"), port);
    env.extend([
        ("VEIL_QUEUE_BACKOFF_MAX_MS", "1000".to_string()),
        (
            "VEIL_LINKAGE_CHUNK_COMPARISONS",
            chunk_comparisons(records).to_string(),
        ),
    ]);
    let server = start_server(
        &env,
        &["--workers", "0"],
        &base,
        &dir.path().join("server.log"),
    )
    .await;
    let mut victim = start_worker(&env, 1, &dir.path().join("victim-1.log"));

    let parties = generate_parties(records);
    let api = EntityApi {
        http: reqwest::Client::new(),
        base: format!("{base}/api/v1"),
    };
    let project = api
        .post(
            "/projects",
            None,
            json!({"schema": {"version": 3, "note": "crash test"}, "result_type": "groups"}),
        )
        .await;
    let project_id = project["project_id"].as_str().unwrap().to_string();
    let result_token = project["result_token"].as_str().unwrap().to_string();
    let update_tokens: Vec<&str> = project["update_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|token| token.as_str().unwrap())
        .collect();
    let upload_started = Instant::now();
    for (token, encodings) in update_tokens.iter().zip(&parties) {
        api.upload_binary(&project_id, token, encodings.clone())
            .await;
    }
    let upload_time = upload_started.elapsed();

    let run = api
        .post(
            &format!("/projects/{project_id}/runs"),
            Some(&result_token),
            json!({"threshold": THRESHOLD}),
        )
        .await;
    let run_created = Instant::now();
    let run_id = run["run_id"].as_str().unwrap();
    let client = common::admin_client(&base).await;
    let mut watch = RunWatch {
        api: &api,
        status_path: format!("/projects/{project_id}/runs/{run_id}/status"),
        result_token: result_token.clone(),
        polls: Vec::new(),
    };

    // A kill can land in the instant between two tasks, when the victim holds none; a task row still
    // `running` after the kill proves it held one (it is the only worker), else another victim goes.
    let mut victims = 1;
    let (job_id, killed) = loop {
        let (job_id, killed) = kill_mid_run(&mut watch, &client, &mut victim, &server).await;
        let tasks = client.describe_job(job_id).await.unwrap().tasks;
        if tasks.iter().any(|task| task.state == TaskState::Running) {
            break (job_id, killed);
        }
        assert!(victims < 5, "{victims} kills all landed between tasks");
        victims += 1;
        eprintln!("run_crash: the kill landed between two tasks; starting victim {victims}");
        victim = start_worker(&env, 1, &dir.path().join(format!("victim-{victims}.log")));
    };
    let at_kill = watch.poll().await;
    assert_ne!(at_kill.state, "completed", "{at_kill:?}");
    let rescuer = start_worker(&env, 1, &dir.path().join("rescuer.log"));

    loop {
        let observation = watch.poll().await;
        if observation.state == "completed" {
            break;
        }
        assert!(
            killed.elapsed() < RUN_TIMEOUT,
            "the run did not complete after the kill: {observation:?}\n{}{}",
            log_tail("server", &server),
            log_tail("rescuer", &rescuer)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let completed = Instant::now();

    let result = api
        .get(
            &format!("/projects/{project_id}/runs/{run_id}/result"),
            &result_token,
        )
        .await;
    let served = groups_of(&result);
    let engine_started = Instant::now();
    let expected = tokio::task::spawn_blocking(move || engine_groups(&parties))
        .await
        .unwrap();
    let engine_time = engine_started.elapsed();
    assert!(
        served == expected,
        "the run's groups differ from the engine's: {} served, {} expected; only served: {:?}; \
         only expected: {:?}",
        served.len(),
        expected.len(),
        served.difference(&expected).take(5).collect::<Vec<_>>(),
        expected.difference(&served).take(5).collect::<Vec<_>>()
    );
    assert!(
        served.len() * 10 > records * 6,
        "only {} groups for {records} records per party",
        served.len()
    );

    let description = client.describe_job(job_id).await.unwrap();
    let events: Vec<&str> = description
        .events
        .iter()
        .map(|event| event.message.as_str())
        .collect();
    assert!(
        events
            .iter()
            .any(|event| event.contains("retried after lease expired")),
        "the task the victim held must be redelivered after its lease expired: {events:#?}"
    );

    let retried = description
        .tasks
        .iter()
        .filter(|task| task.attempts > 1)
        .count();
    eprintln!(
        "run_crash: {records} × {records} records, {} comparison tasks ({retried} retried), {} polls",
        description.tasks.len(),
        watch.polls.len()
    );
    eprintln!("run_crash: upload of both parties: {upload_time:.2?}");
    eprintln!(
        "run_crash: run created → victim killed: {:.2?} (at {at_kill:?})",
        killed - run_created
    );
    eprintln!(
        "run_crash: victim killed → run completed: {:.2?} (created → completed: {:.2?})",
        completed - killed,
        completed - run_created
    );
    eprintln!(
        "run_crash: {} groups, equal to the engine's (in-test engine: {engine_time:.2?})",
        served.len()
    );
}
