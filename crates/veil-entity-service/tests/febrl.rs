//! FEBRL4 through the API end to end, against anonlink 0.15.3's own output: the clkhash-encoded
//! FEBRL4 datasets (5,000 records each, the matching crate's golden fixtures) are uploaded, linked at
//! 0.8, and the groups and similarity scores must equal anonlink's.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::{App, Project};
use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_entity_service::RunSettings;
use veil_linkage_matching::read_candidates_csv;
use veil_metadata::testsuite::fresh_sqlite;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../veil-linkage-matching/tests/data")
        .join(name)
}

fn clks(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).expect("FEBRL4 fixture");
    serde_json::from_str(&text).expect("CLK JSON")
}

async fn linked(app: &App, result_type: &str) -> (Project, String) {
    let project = app
        .create(json!({"schema": common::schema(), "result_type": result_type}))
        .await;
    for (party, name) in [
        "clkhash-0.18.3.febrl4_a.febrl_v3_blake.json",
        "clkhash-0.18.3.febrl4_b.febrl_v3_blake.json",
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = app
            .post(
                &format!("/projects/{}/clks", project.id),
                Some(&project.updates[party]),
                clks(name),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let started = std::time::Instant::now();
    let run = app.create_run(&project, 0.8).await;
    let done = app.wait_for_run(&project, &run).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["total_number_comparisons"], 25_000_000);
    eprintln!(
        "FEBRL4 {result_type}: run created → completed in {:.2?} (debug build)",
        started.elapsed()
    );
    (project, run)
}

fn group_set(value: &Value) -> BTreeSet<Vec<(u32, u32)>> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let mut g: Vec<(u32, u32)> = serde_json::from_value(g.clone()).unwrap();
            g.sort_unstable();
            g
        })
        .collect()
}

#[tokio::test]
async fn febrl4_groups_and_scores_equal_anonlink() {
    let settings = RunSettings {
        chunk_comparisons: 4_000_000,
        max_candidates: 1_000_000,
    };
    let app = App::start_with(fresh_sqlite().await, settings).await;

    let (project, run) = linked(&app, "groups").await;
    let (status, body) = app.result(&project, &run, &project.result, "").await;
    assert_eq!(status, StatusCode::OK);
    let text = std::fs::read_to_string(fixture("anonlink-0.15.3.febrl_v3_blake.t0.8.groups.json"))
        .unwrap();
    let want: Value = serde_json::from_str(&text).unwrap();
    let want = group_set(&want["groups"]);
    assert!(want.len() > 4_000);
    assert_eq!(group_set(&body["groups"]), want);

    let (project, run) = linked(&app, "similarity_scores").await;
    let (status, body) = app.result(&project, &run, &project.result, "").await;
    assert_eq!(status, StatusCode::OK);
    let got: BTreeSet<(u32, u32, u32, u32, u64)> = common::score_tuples(&body["similarity_scores"])
        .into_iter()
        .map(|(da, ra, db, rb, score)| (da, ra, db, rb, score.to_bits()))
        .collect();
    let file = std::fs::File::open(fixture(
        "anonlink-0.15.3.febrl_v3_blake.t0.8.candidates.csv",
    ))
    .unwrap();
    let want: BTreeSet<(u32, u32, u32, u32, u64)> = read_candidates_csv(file)
        .unwrap()
        .iter()
        .map(|c| {
            (
                c.dataset_a,
                c.row_a,
                c.dataset_b,
                c.row_b,
                c.score.to_bits(),
            )
        })
        .collect();
    assert_eq!(want.len(), 4_752);
    assert_eq!(got, want, "the same pairs with bit-identical scores");
    app.stop().await;
}
