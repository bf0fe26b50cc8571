//! The compatibility API's project and upload endpoints over real HTTP (see `common` for the harness).

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{clks, is_token, schema, App, TEST_BODY_LIMIT};
use reqwest::StatusCode;
use serde_json::json;
use veil_metadata::testsuite::{fresh_postgres, fresh_sqlite, postgres_url_from_env};

#[tokio::test]
async fn create_list_and_describe_with_each_token_kind() {
    let app = App::start(fresh_sqlite().await).await;
    let groups = app
        .create(json!({"schema": schema(), "result_type": "groups", "name": "n", "notes": "x"}))
        .await;
    assert!(is_token(&groups.id) && is_token(&groups.result));
    assert_eq!(groups.updates.len(), 2);
    assert!(groups.updates.iter().all(|t| is_token(t)));

    let (status, list) = app.get("/projects", None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = list.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["project_id"], groups.id.as_str());
    assert!(listed[0]["time_added"].as_str().is_some());

    let path = format!("/projects/{}", groups.id);
    let (status, body) = app.get(&path, Some(&groups.result)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["project_id"], groups.id.as_str());
    assert_eq!(body["name"], "n");
    assert_eq!(body["notes"], "x");
    assert_eq!(body["result_type"], "groups");
    assert_eq!(body["number_parties"], 2);
    assert_eq!(body["parties_contributed"], 0);
    assert_eq!(body["uses_blocking"], false);
    assert_eq!(body["error"], false);
    assert_eq!(body["schema"], schema());
    // As in the original: groups projects describe only to the result token.
    assert_eq!(
        app.get(&path, Some(&groups.updates[0])).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&path, Some(&"0".repeat(48))).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get(&path, None).await.0, StatusCode::FORBIDDEN);
    let unknown = format!("/projects/{}", "a".repeat(48));
    assert_eq!(
        app.get(&unknown, Some(&groups.result)).await.0,
        StatusCode::FORBIDDEN
    );

    let perms = app
        .create(json!({"schema": schema(), "result_type": "permutations"}))
        .await;
    let path = format!("/projects/{}", perms.id);
    for token in [&perms.result, &perms.updates[0], &perms.updates[1]] {
        let (status, body) = app.get(&path, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["name"], "");
    }
    assert_eq!(
        app.get(&path, Some(&groups.result)).await.0,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[tokio::test]
async fn invalid_project_requests_are_400() {
    let app = App::start(fresh_sqlite().await).await;
    for body in [
        json!({"schema": schema(), "result_type": "permutations", "number_parties": 3}),
        json!({"schema": schema(), "result_type": "similarity_scores", "number_parties": 3}),
        json!({"result_type": "groups"}),
        json!({"schema": schema()}),
        json!({"schema": schema(), "result_type": "mapping"}),
        json!({"schema": schema(), "result_type": "groups", "number_parties": 1}),
        json!({"schema": "text", "result_type": "groups"}),
        json!([1, 2]),
    ] {
        let (status, problem) = app.post("/projects", None, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {problem}");
    }
    let (status, _) = app
        .post("/projects", None, json!({"schema": schema()}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let three = app
        .create(json!({"schema": schema(), "result_type": "groups", "number_parties": 3}))
        .await;
    assert_eq!(three.updates.len(), 3);
    let (_, list) = app.get("/projects", None).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "nothing stored for invalid requests"
    );
    app.stop().await;
}

/// Create, upload, refuse a second upload, reject invalid uploads without storing, retry.
async fn upload_flow(app: &App) {
    let project = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let clks_path = format!("/projects/{}/clks", project.id);
    let first = clks(5, 128, 1);
    let (status, receipt) = app
        .post(
            &clks_path,
            Some(&project.updates[0]),
            json!({"clks": first}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["message"], "Updated");
    assert!(is_token(receipt["receipt_token"].as_str().unwrap()));
    assert_eq!(app.contributed(&project).await, 1);
    let keys = app
        .blobs
        .list(&format!("entity-service/projects/{}", project.id))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    let stored = app.blobs.get(&keys[0]).await.unwrap();
    let expected: Vec<u8> = first
        .iter()
        .flat_map(|c| STANDARD.decode(c).unwrap())
        .collect();
    assert_eq!(stored.to_vec(), expected);

    let (status, _) = app
        .post(
            &clks_path,
            Some(&project.updates[0]),
            json!({"clks": first}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "one upload per party");
    for token in [project.result.as_str(), &"f".repeat(48)] {
        let (status, _) = app
            .post(&clks_path, Some(token), json!({"clks": first}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = app.post(&clks_path, None, json!({"clks": first})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let second = &project.updates[1];
    let mut bad_base64 = clks(3, 128, 9);
    bad_base64[1] = "not base64!".to_string();
    let mut unequal = clks(3, 128, 9);
    unequal[2] = STANDARD.encode([1u8; 64]);
    for body in [
        json!({"clks": bad_base64}),
        json!({"clks": unequal}),
        json!({"clks": clks(3, 64, 9)}),
        json!({"clks": []}),
        json!({"clks": clks(3, 128, 9), "blocks": {"0": ["1"]}}),
    ] {
        let (status, problem) = app.post(&clks_path, Some(second), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert_eq!(app.contributed(&project).await, 1);
        assert_eq!(app.blob_count(&project).await, 1, "nothing stored");
    }
    let (status, receipt) = app
        .post(&clks_path, Some(second), json!({"clks": clks(3, 128, 9)}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "retry succeeds: {receipt}");
    assert_eq!(app.contributed(&project).await, 2);
    assert_eq!(app.blob_count(&project).await, 2);
    let (_, body) = app
        .get(&format!("/projects/{}", project.id), Some(&project.result))
        .await;
    assert_eq!(body["error"], false);
}

#[tokio::test]
async fn uploads_on_sqlite() {
    let app = App::start(fresh_sqlite().await).await;
    upload_flow(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn uploads_on_postgres() {
    let Some(url) = postgres_url_from_env() else {
        eprintln!("skipped: VEIL_TEST_POSTGRES_URL is not set");
        return;
    };
    let app = App::start(fresh_postgres(&url).await).await;
    upload_flow(&app).await;
    let blocked = app
        .create(json!({"schema": schema(), "result_type": "groups", "uses_blocking": true}))
        .await;
    let path = format!("/projects/{}/clks", blocked.id);
    let rows = json!({"clknblocks": [[clks(1, 8, 0)[0], "a", 1]]});
    assert_eq!(
        app.post(&path, Some(&blocked.updates[0]), rows).await.0,
        StatusCode::CREATED
    );
    let delete = app
        .send(
            reqwest::Method::DELETE,
            &format!("/projects/{}", blocked.id),
            Some(&blocked.result),
            None,
        )
        .await;
    assert_eq!(delete.0, StatusCode::NO_CONTENT);
    app.stop().await;
}

#[tokio::test]
async fn blocking_rules_both_ways() {
    let app = App::start(fresh_sqlite().await).await;
    let blocked = app
        .create(json!({"schema": schema(), "result_type": "groups", "uses_blocking": true}))
        .await;
    let path = format!("/projects/{}/clks", blocked.id);
    let one = &blocked.updates[0];
    let encodings = clks(2, 16, 3);
    for body in [
        json!({"clks": encodings}),
        json!({"encodings": encodings}),
        json!({"clknblocks": [[encodings[0]], [encodings[1], "b"]]}),
        json!({"encodings": encodings, "blocks": {"7": ["b"]}}),
    ] {
        let (status, problem) = app.post(&path, Some(one), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    }
    let rows = json!({"clknblocks": [[encodings[0], "b1", 2], [encodings[1], "b1"]]});
    assert_eq!(
        app.post(&path, Some(one), rows).await.0,
        StatusCode::CREATED
    );
    let body = json!({"encodings": clks(4, 16, 5), "blocks": {"0": ["b1"], "3": ["b2", 7]}});
    assert_eq!(
        app.post(&path, Some(&blocked.updates[1]), body).await.0,
        StatusCode::CREATED
    );
    assert_eq!(app.contributed(&blocked).await, 2);
    assert_eq!(
        app.blob_count(&blocked).await,
        4,
        "encodings and blocks per upload"
    );

    let plain = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let path = format!("/projects/{}/clks", plain.id);
    let one = &plain.updates[0];
    for body in [
        json!({"clknblocks": [[encodings[0], "b"]]}),
        json!({"encodings": encodings, "blocks": {"0": ["b"]}}),
        json!({"encodings": {"file": {"bucket": "b", "path": "p"}}}),
    ] {
        let (status, problem) = app.post(&path, Some(one), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    }
    let body = json!({"encodings": encodings});
    assert_eq!(
        app.post(&path, Some(one), body).await.0,
        StatusCode::CREATED
    );
    assert_eq!(app.contributed(&plain).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn delete_removes_rows_and_blobs() {
    let app = App::start(fresh_sqlite().await).await;
    let project = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let keep = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let path = format!("/projects/{}", project.id);
    let body = json!({"clks": clks(2, 8, 1)});
    app.post(&format!("{path}/clks"), Some(&project.updates[0]), body)
        .await;
    assert_eq!(app.blob_count(&project).await, 1);

    let delete = |token: Option<String>| {
        let path = path.clone();
        let app = &app;
        async move {
            app.send(reqwest::Method::DELETE, &path, token.as_deref(), None)
                .await
                .0
        }
    };
    assert_eq!(
        delete(Some(project.updates[0].clone())).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(delete(None).await, StatusCode::FORBIDDEN);
    assert_eq!(
        delete(Some(project.result.clone())).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.blob_count(&project).await, 0);
    assert_eq!(
        app.get(&path, Some(&project.result)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(Some(project.result.clone())).await,
        StatusCode::FORBIDDEN
    );
    let (_, list) = app.get("/projects", None).await;
    assert_eq!(
        list,
        json!([{"project_id": keep.id, "time_added": list[0]["time_added"]}])
    );
    let (_, status) = app.get("/status", None).await;
    assert_eq!(status["project_count"], 1);
    app.stop().await;
}

#[tokio::test]
async fn doubled_slashes_status_version_and_external_upload() {
    let app = App::start(fresh_sqlite().await).await;
    let (status, body) = app.get("/status", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok", "project_count": 0, "rate": 0}));
    let (status, body) = app.get("/version", None).await;
    assert_eq!(status, StatusCode::OK);
    for field in ["anonlink", "entityservice", "python"] {
        assert!(body[field].as_str().is_some(), "{field} in {body}");
    }

    let (status, created) = app
        .post(
            "//projects",
            None,
            json!({"schema": schema(), "result_type": "groups"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["project_id"].as_str().unwrap();
    let token = created["result_token"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("//projects//{id}"), Some(token)).await.0,
        StatusCode::OK
    );

    let update = created["update_tokens"][0].as_str().unwrap();
    let (status, problem) = app
        .get(
            &format!("/projects/{id}/authorize-external-upload"),
            Some(update),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(problem["title"], "Feature Disabled");

    assert_eq!(app.get("/nothing", None).await.0, StatusCode::NOT_FOUND);
    let put = app
        .send(reqwest::Method::PUT, "/projects", None, None)
        .await;
    assert_eq!(put.0, StatusCode::METHOD_NOT_ALLOWED);
    app.stop().await;
}

#[tokio::test]
async fn json_uploads_are_parsed_as_they_stream_in() {
    let app = App::start(fresh_sqlite().await).await;
    let project = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let encodings = clks(500, 128, 3);
    let body = json!({ "clks": encodings }).to_string().into_bytes();
    let send = |bytes: Vec<u8>| {
        let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
            bytes.chunks(777).map(|piece| Ok(piece.to_vec())).collect();
        app.http
            .post(format!("{}/projects/{}/clks", app.base, project.id))
            .header("Authorization", &project.updates[0])
            .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
            .send()
    };
    let truncated = send(body[..body.len() / 2].to_vec()).await.unwrap();
    assert_eq!(truncated.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.blob_count(&project).await,
        0,
        "nothing kept of a cut-off upload"
    );
    let response = send(body).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let prefix = format!("entity-service/projects/{}", project.id);
    let keys = app.blobs.list(&prefix).await.unwrap();
    assert_eq!(keys.len(), 1);
    let stored = app.blobs.get(&keys[0]).await.unwrap();
    let want: Vec<u8> = encodings
        .iter()
        .flat_map(|clk| STANDARD.decode(clk).unwrap())
        .collect();
    assert_eq!(stored.to_vec(), want);
    app.stop().await;
}

/// A body of `bytes`, sent in pieces without a length, as a chunked upload arrives.
fn chunked(bytes: Vec<u8>) -> reqwest::Body {
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = bytes
        .chunks(64 * 1024)
        .map(|piece| Ok(piece.to_vec()))
        .collect();
    reqwest::Body::wrap_stream(futures::stream::iter(pieces))
}

#[tokio::test]
async fn chunked_uploads_over_the_body_limit_are_413_and_leave_nothing() {
    let app = App::start(fresh_sqlite().await).await;
    let project = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let size = 128;
    let count = TEST_BODY_LIMIT / size + 1;
    let binary = app
        .http
        .post(format!("{}/projects/{}/binaryclks", app.base, project.id))
        .header("Authorization", &project.updates[0])
        .header("Hash-Count", count.to_string())
        .header("Hash-Size", size.to_string())
        .body(chunked(vec![7u8; count * size]))
        .send()
        .await
        .unwrap();
    assert_eq!(binary.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let problem: serde_json::Value = binary.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("body limit"),
        "{problem}"
    );

    let json_body = json!({ "clks": clks(count, size, 5) }).to_string();
    let json_upload = app
        .http
        .post(format!("{}/projects/{}/clks", app.base, project.id))
        .header("Authorization", &project.updates[0])
        .body(chunked(json_body.into_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(json_upload.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.blob_count(&project).await, 0, "nothing kept");
    assert_eq!(app.contributed(&project).await, 0, "the party may retry");

    let receipt = app
        .upload_json(&project, 0, &vec![vec![1u8; size]; 10])
        .await;
    assert!(
        is_token(&receipt),
        "the server keeps serving and the party may retry"
    );
    app.stop().await;
}

#[tokio::test]
async fn recovery_frees_uploads_cut_off_by_a_crash() {
    let app = App::start(fresh_sqlite().await).await;
    let project = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    // A process died while party 0's upload was in flight.
    assert!(app.state.store.begin_upload(&project.id, 0).await.unwrap());
    let path = format!("/projects/{}/clks", project.id);
    let body = json!({"clks": clks(3, 16, 1)});
    let (status, _) = app
        .post(&path, Some(&project.updates[0]), body.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the slot is still held");
    assert_eq!(app.state.recover().await.unwrap(), (1, 0));
    let (status, problem) = app.post(&path, Some(&project.updates[0]), body).await;
    assert_eq!(status, StatusCode::CREATED, "{problem}");
    app.stop().await;
}
