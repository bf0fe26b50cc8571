//! Linkage runs through the API, computed by the platform's workers in several tasks, against the
//! matching engine run directly on the same encodings (the engine is golden-tested against anonlink;
//! `febrl.rs` checks the API against anonlink's own output).

mod common;

use std::collections::BTreeSet;

use common::{base64_all, party_encodings, schema, score_tuples, App, Project};
use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_entity_service::RunSettings;
use veil_linkage_matching::{
    block_key_id, find_candidate_pairs, find_candidate_pairs_blocked, greedy_solve,
    CandidateOptions, Candidates, ClkSet, Groups, RecordBlocks,
};
use veil_metadata::testsuite::{fresh_postgres, fresh_sqlite, postgres_url_from_env};

const SIZE: usize = 64;
const THRESHOLD: f64 = 0.8;

fn clk_set(encodings: &[Vec<u8>]) -> ClkSet {
    ClkSet::from_bytes(encodings.iter().map(|clk| clk.as_slice())).unwrap()
}

fn engine(parties: &[Vec<Vec<u8>>], threshold: f64) -> Candidates {
    let sets: Vec<ClkSet> = parties.iter().map(|p| clk_set(p)).collect();
    let refs: Vec<&ClkSet> = sets.iter().collect();
    find_candidate_pairs(&refs, threshold, None, 1).unwrap()
}

fn groups_of(value: &Value) -> BTreeSet<Vec<(u32, u32)>> {
    value
        .as_array()
        .expect("groups array")
        .iter()
        .map(|group| {
            let mut records: Vec<(u32, u32)> =
                serde_json::from_value(group.clone()).expect("group of [party, row]");
            records.sort_unstable();
            records
        })
        .collect()
}

fn as_set(groups: &Groups) -> BTreeSet<Vec<(u32, u32)>> {
    groups.iter().cloned().collect()
}

/// Party A: 70 records; party B: 40 of A's records with a few bits flipped, plus 20 others.
fn two_parties() -> Vec<Vec<Vec<u8>>> {
    let a = party_encodings(1, 1, 70, SIZE, 0);
    let mut b = party_encodings(1, 2, 40, SIZE, 12);
    b.extend(party_encodings(2, 3, 20, SIZE, 0));
    vec![a, b]
}

async fn project(app: &App, result_type: &str, parties: usize, blocking: bool) -> Project {
    app.create(json!({"schema": schema(), "result_type": result_type,
        "number_parties": parties, "uses_blocking": blocking}))
        .await
}

/// A two-party project of `result_type` with both uploads and one finished run at `threshold`.
async fn linked(
    app: &App,
    result_type: &str,
    threshold: f64,
) -> (Vec<Vec<Vec<u8>>>, Project, String, Value) {
    let parties = two_parties();
    let project = project(app, result_type, 2, false).await;
    app.upload_json(&project, 0, &parties[0]).await;
    app.upload_json(&project, 1, &parties[1]).await;
    let run = app.create_run(&project, threshold).await;
    let done = app.wait_for_run(&project, &run).await;
    (parties, project, run, done)
}

async fn groups_flow(app: &App) {
    let parties = two_parties();
    let project = project(app, "groups", 2, false).await;
    let early = app.create_run(&project, THRESHOLD).await;
    let (status, body) = app
        .get(
            &format!("/projects/{}/runs/{early}/status", project.id),
            Some(&project.result),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "created");
    assert_eq!(body["stages"], 3);
    assert_eq!(body["current_stage"]["number"], 1);
    let (status, _) = app.result(&project, &early, &project.result, "").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no result before the run completes"
    );

    app.upload_json(&project, 0, &parties[0]).await;
    let (status, body) = app
        .get(
            &format!("/projects/{}/runs/{early}/status", project.id),
            Some(&project.result),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["current_stage"]["progress"]["absolute"], 1);
    assert_eq!(body["current_stage"]["progress"]["relative"], 0.5);
    let (status, body) = app.upload_binary(&project, 1, &parties[1], 60, SIZE).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let done = app.wait_for_run(&project, &early).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["current_stage"]["number"], 3);
    assert_eq!(done["total_number_comparisons"], 70 * 60);
    assert!(done["time_started"].is_string() && done["time_completed"].is_string());
    let want = greedy_solve(&engine(&parties, THRESHOLD));
    assert!(want.len() >= 35, "the fixture has matches: {}", want.len());
    let (status, body) = app.result(&project, &early, &project.result, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(groups_of(&body["groups"]), as_set(&want));

    let (status, body) = app
        .result(&project, &early, &project.result, "?include_scores=true")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(groups_of(&body["groups"]), as_set(&want));
    for scores in body["group_scores"].as_array().unwrap() {
        let scores = scores.as_array().unwrap();
        assert!(!scores.is_empty());
        assert!(scores.iter().all(|s| s[2].as_f64().unwrap() >= THRESHOLD));
    }

    // A second run at another threshold, created after the uploads, is queued at once.
    let second = app.create_run(&project, 0.9).await;
    let done = app.wait_for_run(&project, &second).await;
    assert_eq!(done["state"], "completed");
    let (_, body) = app.result(&project, &second, &project.result, "").await;
    assert_eq!(
        groups_of(&body["groups"]),
        as_set(&greedy_solve(&engine(&parties, 0.9)))
    );
    let (status, list) = app
        .get(
            &format!("/projects/{}/runs", project.id),
            Some(&project.result),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["state"] == "completed"));
    let (status, body) = app
        .get(
            &format!("/projects/{}/runs/{second}", project.id),
            Some(&project.result),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["threshold"], 0.9);
    assert_eq!(body["name"], "test run");
    // Results are for the result token only.
    let (status, _) = app.result(&project, &second, &project.updates[0], "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn groups_on_sqlite() {
    let app = App::start(fresh_sqlite().await).await;
    groups_flow(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn groups_on_postgres() {
    let Some(url) = postgres_url_from_env() else {
        eprintln!("skipped: VEIL_TEST_POSTGRES_URL is not set");
        return;
    };
    let app = App::start(fresh_postgres(&url).await).await;
    groups_flow(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn similarity_scores_equal_the_engine() {
    let app = App::start(fresh_sqlite().await).await;
    let (parties, project, run, done) = linked(&app, "similarity_scores", 0.6).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["stages"], 2);
    let (status, body) = app.result(&project, &run, &project.result, "").await;
    assert_eq!(status, StatusCode::OK);
    let got = score_tuples(&body["similarity_scores"]);
    let want: Vec<(u32, u32, u32, u32, f64)> = engine(&parties, 0.6)
        .iter()
        .map(|c| (c.dataset_a, c.row_a, c.dataset_b, c.row_b, c.score))
        .collect();
    assert!(want.len() >= 40, "the fixture has matches: {}", want.len());
    assert_eq!(got, want, "same pairs, same scores, same order");
    app.stop().await;
}

#[tokio::test]
async fn permutations_give_the_mask_and_each_party_its_permutation() {
    let app = App::start(fresh_sqlite().await).await;
    let parties = two_parties();
    let project = project(&app, "permutations", 2, false).await;
    let receipts = [
        app.upload_json(&project, 0, &parties[0]).await,
        app.upload_json(&project, 1, &parties[1]).await,
    ];
    let run = app.create_run(&project, THRESHOLD).await;
    assert_eq!(app.wait_for_run(&project, &run).await["state"], "completed");
    let (status, mask) = app.result(&project, &run, &project.result, "").await;
    assert_eq!(status, StatusCode::OK);
    let mask: Vec<u8> = serde_json::from_value(mask["mask"].clone()).unwrap();
    assert_eq!(mask.len(), 60);
    let mut permutations = Vec::new();
    for (party, receipt) in receipts.iter().enumerate() {
        let (status, body) = app.result(&project, &run, receipt, "").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["rows"], 60);
        let permutation: Vec<u32> = serde_json::from_value(body["permutation"].clone()).unwrap();
        let mut sorted = permutation.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..parties[party].len() as u32).collect::<Vec<_>>());
        permutations.push(permutation);
    }
    let groups = greedy_solve(&engine(&parties, THRESHOLD));
    assert_eq!(mask.iter().filter(|m| **m == 1).count(), groups.len());
    for group in &groups {
        let (a, b) = (group[0].1 as usize, group[1].1 as usize);
        assert_eq!(
            permutations[0][a], permutations[1][b],
            "matched rows share a position"
        );
        assert_eq!(mask[permutations[0][a] as usize], 1);
    }
    // Each party may watch the run's status with its receipt, as the anonlink client does.
    let status_path = format!("/projects/{}/runs/{run}/status", project.id);
    for receipt in &receipts {
        assert_eq!(app.get(&status_path, Some(receipt)).await.0, StatusCode::OK);
    }
    assert_eq!(
        app.get(&status_path, Some(&project.updates[0])).await.0,
        StatusCode::FORBIDDEN
    );
    // An update token is not a receipt.
    let (status, _) = app.result(&project, &run, &project.updates[0], "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn three_party_groups_equal_the_engine() {
    let app = App::start(fresh_sqlite().await).await;
    let parties = vec![
        party_encodings(5, 1, 40, SIZE, 4),
        party_encodings(5, 2, 30, SIZE, 8),
        party_encodings(5, 3, 35, SIZE, 6),
    ];
    let project = project(&app, "groups", 3, false).await;
    for (party, encodings) in parties.iter().enumerate() {
        app.upload_json(&project, party, encodings).await;
    }
    let run = app.create_run(&project, THRESHOLD).await;
    assert_eq!(app.wait_for_run(&project, &run).await["state"], "completed");
    let (_, body) = app.result(&project, &run, &project.result, "").await;
    let want = greedy_solve(&engine(&parties, THRESHOLD));
    assert!(
        want.iter().any(|g| g.len() == 3),
        "some entities are in all three"
    );
    assert_eq!(groups_of(&body["groups"]), as_set(&want));
    app.stop().await;
}

#[tokio::test]
async fn blocked_runs_equal_the_blocked_engine() {
    let app = App::start(fresh_sqlite().await).await;
    let parties = two_parties();
    let block_of = |party: usize, row: usize| -> Vec<String> {
        // Two overlapping block schemes; party 1's matches of party 0's rows sit at the same row.
        let mut ids = vec![format!("m{}", row % 4)];
        if row.is_multiple_of(3) || party == 1 {
            ids.push(format!("t{}", row % 5));
        }
        ids
    };
    let project = project(&app, "groups", 2, true).await;
    for (party, encodings) in parties.iter().enumerate() {
        let rows: Vec<Value> = base64_all(encodings)
            .into_iter()
            .enumerate()
            .map(|(row, clk)| {
                let mut entry = vec![json!(clk)];
                entry.extend(block_of(party, row).into_iter().map(Value::from));
                Value::Array(entry)
            })
            .collect();
        let (status, body) = app
            .post(
                &format!("/projects/{}/clks", project.id),
                Some(&project.updates[party]),
                json!({"clknblocks": rows}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let run = app.create_run(&project, 0.55).await;
    let done = app.wait_for_run(&project, &run).await;
    assert_eq!(done["state"], "completed", "{done}");
    let sets: Vec<ClkSet> = parties.iter().map(|p| clk_set(p)).collect();
    let blocks: Vec<RecordBlocks> = parties
        .iter()
        .enumerate()
        .map(|(party, p)| {
            RecordBlocks::from_lists((0..p.len()).map(|row| {
                block_of(party, row)
                    .iter()
                    .map(|id| block_key_id(id))
                    .collect::<Vec<_>>()
            }))
        })
        .collect();
    let options = CandidateOptions {
        threshold: 0.55,
        top_k: None,
        threads: 1,
        kernel: None,
    };
    let (want, _) =
        find_candidate_pairs_blocked(&[&sets[0], &sets[1]], &[&blocks[0], &blocks[1]], &options)
            .unwrap();
    let all_pairs = engine(&parties, 0.55);
    assert!(want.len() < all_pairs.len(), "blocking removed some pairs");
    let (_, body) = app.result(&project, &run, &project.result, "").await;
    assert_eq!(groups_of(&body["groups"]), as_set(&greedy_solve(&want)));
    app.stop().await;
}

#[tokio::test]
async fn too_many_candidates_is_a_run_error_not_a_crash() {
    let settings = RunSettings {
        chunk_comparisons: 2_000,
        max_candidates: 10,
    };
    let app = App::start_with(fresh_sqlite().await, settings).await;
    let (_, project, run, done) = linked(&app, "groups", THRESHOLD).await;
    assert_eq!(done["state"], "error", "{done}");
    let message = done["message"].as_str().unwrap();
    assert!(
        message.contains("candidate pairs") && message.contains("higher threshold"),
        "{message}"
    );
    let (status, body) = app.result(&project, &run, &project.result, "").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "as the original");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("higher threshold"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn run_requests_are_validated() {
    let app = App::start(fresh_sqlite().await).await;
    let project = project(&app, "groups", 2, false).await;
    let runs = format!("/projects/{}/runs", project.id);
    for body in [
        json!({}),
        json!({"threshold": 0}),
        json!({"threshold": 1.5}),
        json!({"threshold": "x"}),
        json!({"threshold": -0.1}),
        json!({"threshold": 0.5, "name": 3}),
        json!([0.5]),
    ] {
        let (status, problem) = app.post(&runs, Some(&project.result), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {problem}");
    }
    assert_eq!(
        app.post(&runs, Some(&project.updates[0]), json!({"threshold": 0.5}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(&runs, None, json!({"threshold": 0.5})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&runs, Some(&project.updates[1])).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, list) = app.get(&runs, Some(&project.result)).await;
    assert_eq!(
        (status, list),
        (StatusCode::OK, json!([])),
        "nothing stored for invalid runs"
    );
    let unknown = format!("{runs}/{}", "b".repeat(48));
    for path in [
        unknown.clone(),
        format!("{unknown}/status"),
        format!("{unknown}/result"),
    ] {
        let (status, problem) = app.get(&path, Some(&project.result)).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "unknown run id, as the original: {path}"
        );
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("Invalid access token"));
    }
    let other = format!("/projects/{}/runs", "c".repeat(48));
    assert_eq!(
        app.get(&other, Some(&project.result)).await.0,
        StatusCode::FORBIDDEN
    );

    let run = app.create_run(&project, 0.7).await;
    let path = format!("{runs}/{run}");
    assert_eq!(
        app.delete(&path, &project.updates[0]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&path, &project.result).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&path, Some(&project.result)).await.0,
        StatusCode::FORBIDDEN,
        "a deleted run is unknown"
    );
    assert_eq!(
        app.delete(&path, &project.result).await,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_project_removes_its_runs_and_their_data() {
    let app = App::start(fresh_sqlite().await).await;
    let (_, project, _, done) = linked(&app, "similarity_scores", THRESHOLD).await;
    assert_eq!(done["state"], "completed");
    assert!(!app.blobs.list("jobs").await.unwrap().is_empty());
    assert_eq!(
        app.delete(&format!("/projects/{}", project.id), &project.result)
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.blobs
            .list(&format!("entity-service/projects/{}", project.id))
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        app.blobs.list("jobs").await.unwrap(),
        Vec::<String>::new(),
        "task results are removed too"
    );
    app.stop().await;
}

#[tokio::test]
async fn binary_uploads_are_checked_against_their_headers() {
    let app = App::start(fresh_sqlite().await).await;
    let parties = two_parties();
    let project = project(&app, "groups", 2, false).await;
    let (status, body) = app.upload_binary(&project, 0, &parties[0], 71, SIZE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("Hash-Count"),
        "{body}"
    );
    let (status, _) = app.upload_binary(&project, 0, &parties[0], 70, 2000).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let response = app
        .http
        .post(format!("{}/projects/{}/binaryclks", app.base, project.id))
        .header("Authorization", &project.updates[0])
        .body(parties[0].concat())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "headers are required"
    );
    assert_eq!(app.contributed(&project).await, 0);
    assert_eq!(
        app.blob_count(&project).await,
        0,
        "nothing kept of refused uploads"
    );
    let (status, body) = app.upload_binary(&project, 0, &parties[0], 70, SIZE).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app.upload_binary(&project, 0, &parties[0], 70, SIZE).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "one upload per party");
    let (status, _) = app
        .upload_binary(&project, 1, &parties[1][..10], 10, 32)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "sizes must agree across parties"
    );

    let blocked = self::project(&app, "groups", 2, true).await;
    let (status, _) = app.upload_binary(&blocked, 0, &parties[0], 70, SIZE).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "binary uploads carry no blocks"
    );
    app.stop().await;
}
