//! `veil link project …` and `veil demo` driven through the real binary against a real `veil serve`:
//! create a project, upload every party's encodings (JSON and binary), run, fetch and check results
//! for each result type, and the errors a user sees.

mod common;

#[path = "link_project/service.rs"]
mod service;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use service::{groups_of, Service, RECORDS, SCHEMA, SECRET};

#[tokio::test]
async fn groups_flow_from_create_to_evaluated_result_and_deletion() {
    let service = Service::start().await;
    service.generate("data", 1);
    let (project, credentials) = service.create("project.json", "groups", 2);
    assert_eq!(credentials["update_tokens"].as_array().unwrap().len(), 2);
    let mode = std::fs::metadata(&project).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            mode.permissions().mode() & 0o077,
            0,
            "credentials are private"
        );
    }
    service.upload(&project, 0, &service.path("data/a.json"));
    service.upload(&project, 1, &service.path("data/b.bin"));
    let run_id = service.create_run(&project, "0.8");

    let groups_file = service.path("groups.json");
    let done = service.ok(&[
        "link",
        "project",
        "results",
        "--project",
        &project,
        "--run",
        &run_id,
        "--watch",
        "--interval",
        "0.1",
        "-o",
        &groups_file,
    ]);
    // Whichever stage the first status shows, watching reports it.
    assert!(done.stderr.contains("stage "), "{}", done.stderr);
    let eval = service.ok(&[
        "link",
        "eval",
        &groups_file,
        &service.path("data/truth.csv"),
    ]);
    let precision: f64 = eval
        .stdout
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(precision > 0.95, "{}", eval.stdout);

    let list = service.ok(&["link", "project", "run", "list", "--project", &project]);
    assert!(
        list.stdout.contains(&run_id) && list.stdout.contains("completed"),
        "{}",
        list.stdout
    );
    let status = service.ok(&[
        "link",
        "project",
        "run",
        "status",
        "--project",
        &project,
        "--run",
        &run_id,
    ]);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["state"], "completed");
    assert_eq!(
        status["total_number_comparisons"],
        (RECORDS * RECORDS) as u64
    );

    service.ok(&["link", "project", "delete", "--project", &project]);
    let gone = service.run(&[
        "link",
        "project",
        "results",
        "--project",
        &project,
        "--run",
        &run_id,
    ]);
    assert_eq!(gone.code, 1, "{}", gone.stderr);
    assert!(
        gone.stderr.contains("Invalid access token"),
        "{}",
        gone.stderr
    );
}

#[tokio::test]
async fn blocking_projects_take_clknblocks_and_link_within_blocks() {
    let service = Service::start().await;
    service.generate("data", 6);
    let blocking_schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../veil-linkage-blocking/tests/data/lambda_clks_schema.json"
    );
    let path = service.path("project.json");
    service.ok(&[
        "link",
        "project",
        "create",
        "--schema",
        SCHEMA,
        "--type",
        "groups",
        "--blocking",
        "-o",
        &path,
    ]);
    // Binary encodings carry no blocks: blocking needs `veil link block`'s clknblocks files.
    let (a, b) = (service.path("data/a.json"), service.path("data/b.json"));
    service.ok(&[
        "link",
        "encode",
        &service.path("data/b.csv"),
        SCHEMA,
        "--secret-file",
        SECRET,
        "-o",
        &b,
    ]);
    for (party, clks) in [&a, &b].into_iter().enumerate() {
        let blocked = service.path(&format!("data/{party}.blocks.json"));
        service.ok(&["link", "block", clks, blocking_schema, "-o", &blocked]);
        let refused = service.run(&[
            "link",
            "project",
            "upload",
            "--project",
            &path,
            "--party",
            &party.to_string(),
            &blocked,
            "--upload-as",
            "binary",
        ]);
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        assert!(refused.stderr.contains("clknblocks"), "{}", refused.stderr);
        service.upload(&path, party, &blocked);
    }
    let run_id = service.create_run(&path, "0.8");
    let groups = groups_of(&service.results(&path, &run_id, &[]));
    assert!(groups.len() > RECORDS * 9 / 10, "{} groups", groups.len());
}

#[tokio::test]
async fn rate_limited_calls_are_retried_until_they_pass() {
    // One request a second: nearly every call of the flow is first answered 503.
    let service = Service::start_with(&[
        ("VEIL_RATE_LIMIT_PER_SECOND", "1"),
        ("VEIL_RATE_LIMIT_BURST", "1"),
    ])
    .await;
    service.generate("data", 7);
    let (project, _) = service.create("project.json", "groups", 2);
    service.upload(&project, 0, &service.path("data/a.json"));
    service.upload(&project, 1, &service.path("data/b.bin"));
    let run_id = service.create_run(&project, "0.8");
    let groups = groups_of(&service.results(&project, &run_id, &[]));
    assert!(groups.len() > RECORDS * 9 / 10, "{} groups", groups.len());
}

#[tokio::test]
async fn permutations_give_a_mask_and_each_party_its_permutation() {
    let service = Service::start().await;
    service.generate("data", 2);
    let (project, _) = service.create("project.json", "permutations", 2);
    // Party 0 sends its JSON as binary, party 1 its binary as JSON: both conversions are exercised.
    let (a, b) = (service.path("data/a.json"), service.path("data/b.bin"));
    let args = |party: &'static str, file: &str, how: &'static str| {
        service.ok(&[
            "link",
            "project",
            "upload",
            "--project",
            &project,
            "--party",
            party,
            file,
            "--upload-as",
            how,
        ])
    };
    let receipt_0: Value = serde_json::from_str(&args("0", &a, "binary").stdout).unwrap();
    let receipt_1: Value = serde_json::from_str(&args("1", &b, "json").stdout).unwrap();
    let run_id = service.create_run(&project, "0.8");

    let mask = service.results(&project, &run_id, &[]);
    let mask = mask["mask"]
        .as_array()
        .expect("a mask for the result token");
    let matched = mask.iter().filter(|bit| bit.as_u64() == Some(1)).count();
    assert!(
        matched > RECORDS * 9 / 10 && matched <= RECORDS,
        "{matched} matches"
    );

    for receipt in [&receipt_0, &receipt_1] {
        let token = receipt["receipt_token"].as_str().unwrap();
        let view = service.results(&project, &run_id, &["--receipt", token]);
        let rows = view["rows"].as_u64().expect("rows");
        assert_eq!(rows as usize, mask.len());
        let permutation: BTreeSet<u64> = view["permutation"]
            .as_array()
            .expect("a permutation for a receipt token")
            .iter()
            .map(|position| position.as_u64().unwrap())
            .collect();
        assert_eq!(permutation.len(), RECORDS, "positions are distinct");
        assert!(permutation.iter().all(|position| *position < rows));
    }
}

#[tokio::test]
async fn similarity_scores_are_the_pairs_above_the_threshold() {
    let service = Service::start().await;
    service.generate("data", 3);
    let (project, _) = service.create("project.json", "similarity_scores", 2);
    service.upload(&project, 0, &service.path("data/a.json"));
    service.upload(&project, 1, &service.path("data/b.bin"));
    let run_id = service.create_run(&project, "0.9");
    let result = service.results(&project, &run_id, &[]);
    let scores = result["similarity_scores"]
        .as_array()
        .expect("similarity scores");
    assert!(scores.len() > RECORDS / 2, "{} scores", scores.len());
    for entry in scores {
        assert_eq!(
            (entry[0][0].as_u64(), entry[1][0].as_u64()),
            (Some(0), Some(1)),
            "{entry}"
        );
        let score = entry[2].as_f64().unwrap();
        assert!((0.9..=1.0).contains(&score), "{entry}");
    }
}

#[tokio::test]
async fn three_parties_link_into_groups_across_all_of_them() {
    let service = Service::start().await;
    service.generate("data", 4);
    let (project, credentials) = service.create("project.json", "groups", 3);
    assert_eq!(credentials["update_tokens"].as_array().unwrap().len(), 3);
    // The third party holds a copy of the first one's records.
    for (party, file) in ["data/a.json", "data/b.bin", "data/a.json"]
        .into_iter()
        .enumerate()
    {
        service.upload(&project, party, &service.path(file));
    }
    let run_id = service.create_run(&project, "0.8");
    let groups = groups_of(&service.results(&project, &run_id, &[]));
    let full = groups
        .iter()
        .filter(|group| {
            group
                .iter()
                .map(|(party, _)| party)
                .collect::<BTreeSet<_>>()
                .len()
                == 3
        })
        .count();
    assert!(
        full > RECORDS * 9 / 10,
        "{full} of {} groups span all 3 parties",
        groups.len()
    );
}

#[tokio::test]
async fn wrong_tokens_and_bad_files_are_clear_errors() {
    let service = Service::start().await;
    service.generate("data", 5);
    let (project, credentials) = service.create("project.json", "groups", 2);
    let project_id = credentials["project_id"].as_str().unwrap();

    let wrong = service.run(&[
        "link",
        "project",
        "upload",
        "--project-id",
        project_id,
        "--token",
        "not-a-token",
        &service.path("data/a.json"),
    ]);
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("Invalid access token") && wrong.stderr.contains("403"),
        "{}",
        wrong.stderr
    );
    let wrong = service.run(&[
        "link",
        "project",
        "run",
        "create",
        "--project-id",
        project_id,
        "--token",
        "nope",
        "--threshold",
        "0.8",
    ]);
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("Invalid access token"),
        "{}",
        wrong.stderr
    );

    // Usage errors (exit code 2) name the file at fault.
    let usage = |args: &[&str], needle: &str| {
        let run = service.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(needle),
            "{args:?}: missing {needle:?} in {}",
            run.stderr
        );
    };
    let csv = service.path("data/a.csv");
    usage(
        &[
            "link",
            "project",
            "upload",
            "--project",
            &project,
            "--party",
            "0",
            &csv,
        ],
        "a.csv",
    );
    usage(
        &[
            "link",
            "project",
            "upload",
            "--project",
            &project,
            "--party",
            "2",
            &csv,
        ],
        "no party 2",
    );
    usage(
        &["link", "project", "upload", "--project", &project, &csv],
        "--party",
    );
    usage(
        &[
            "link",
            "project",
            "delete",
            "--project",
            &service.path("missing.json"),
        ],
        "missing.json",
    );
    usage(&["link", "project", "delete", "--project", &csv], "a.csv");
    usage(
        &[
            "link", "project", "create", "--schema", &csv, "--type", "groups",
        ],
        "a.csv",
    );
    usage(
        &[
            "link",
            "project",
            "create",
            "--schema",
            SCHEMA,
            "--type",
            "permutations",
            "--parties",
            "3",
        ],
        "--parties 3",
    );
    let broken = service.path("broken.json");
    std::fs::write(&broken, r#"{"clks": ["AAAA", "not base64"]}"#).unwrap();
    usage(
        &[
            "link",
            "project",
            "upload",
            "--project",
            &project,
            "--party",
            "0",
            &broken,
        ],
        "broken.json",
    );
    assert!(Path::new(&project).exists());

    // Nothing was uploaded by the failed attempts: the real upload still works.
    service.upload(&project, 0, &service.path("data/a.json"));
}
