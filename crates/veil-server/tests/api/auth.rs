//! Login, refresh, logout, who-am-I, job ownership by role, and the audit trail they leave.

use reqwest::StatusCode;
use serde_json::{json, Value};
use veil_auth::Role;
use veil_metadata::AuditFilter;
use veil_service::Actor;

use crate::common::{TestApp, PASSWORD};

async fn add_user(app: &TestApp, name: &str, roles: &[Role]) {
    app.access
        .add_user(name, PASSWORD, roles, &Actor::local_cli())
        .await
        .expect("add a user");
}

async fn login(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .expect("POST /api/auth/login")
}

async fn tokens(app: &TestApp, name: &str) -> (String, String) {
    let response = login(app, name, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let pair: Value = response.json().await.unwrap();
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 300);
    (
        pair["access_token"].as_str().unwrap().to_string(),
        pair["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn get_as(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
}

async fn actions(app: &TestApp) -> Vec<(String, String, String)> {
    app.access
        .audit_log(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|entry| (entry.action, entry.actor, entry.outcome))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refresh_and_logout_work_and_are_audited() {
    let app = TestApp::start().await;
    add_user(&app, "ada", &[Role::Analyst]).await;

    for (name, password) in [("ada", "wrong password!!"), ("nobody", PASSWORD)] {
        let response = login(&app, name, password).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["detail"], "unknown user or wrong password");
    }
    let (access, refresh) = tokens(&app, "ada").await;
    let me: Value = get_as(&app, "/api/auth/me", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["subject"], "ada");
    assert_eq!(me["roles"], json!(["analyst"]));

    // A refresh token is not an access token, and is good for one exchange only.
    assert_eq!(
        get_as(&app, "/api/auth/me", &refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let renewed = reqwest::Client::new()
        .post(app.url("/api/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), StatusCode::OK);
    let renewed: Value = renewed.json().await.unwrap();
    let reused = reqwest::Client::new()
        .post(app.url("/api/auth/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);

    // Logout revokes the access token and, when given, the refresh token.
    let new_access = renewed["access_token"].as_str().unwrap();
    let new_refresh = renewed["refresh_token"].as_str().unwrap();
    let logout = reqwest::Client::new()
        .post(app.url("/api/auth/logout"))
        .bearer_auth(new_access)
        .json(&json!({"refresh_token": new_refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get_as(&app, "/api/auth/me", new_access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let after_logout = reqwest::Client::new()
        .post(app.url("/api/auth/refresh"))
        .json(&json!({"refresh_token": new_refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(after_logout.status(), StatusCode::UNAUTHORIZED);
    // The first access token was not logged out.
    assert_eq!(
        get_as(&app, "/api/auth/me", &access).await.status(),
        StatusCode::OK
    );

    let audited = actions(&app).await;
    for expected in [
        ("login.failed", "ada", "denied"),
        ("login.failed", "nobody", "denied"),
        ("login", "ada", "ok"),
        ("logout", "ada", "ok"),
        ("token.refresh", "ada", "denied"),
    ] {
        let found = audited.iter().any(|(action, actor, outcome)| {
            (action.as_str(), actor.as_str(), outcome.as_str()) == expected
        });
        assert!(found, "{expected:?} not in {audited:?}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_or_changing_roles_applies_to_live_tokens() {
    let app = TestApp::start().await;
    add_user(&app, "bo", &[Role::Analyst]).await;
    let (access, _) = tokens(&app, "bo").await;
    let submit = |token: String| {
        let url = app.url("/api/jobs");
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&json!({"kind": "echo", "params": {"message": "hi"}}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(submit(access.clone()).await, StatusCode::CREATED);
    app.access
        .set_roles("bo", &[Role::ReadOnly], &Actor::local_cli())
        .await
        .unwrap();
    assert_eq!(submit(access.clone()).await, StatusCode::FORBIDDEN);
    app.access
        .delete_user("bo", &Actor::local_cli())
        .await
        .unwrap();
    assert_eq!(submit(access).await, StatusCode::UNAUTHORIZED);
    let audited = actions(&app).await;
    for action in [
        "user.add",
        "user.roles",
        "user.delete",
        "access.denied",
        "token.rejected",
    ] {
        assert!(
            audited.iter().any(|(found, _, _)| found == action),
            "{action} not in {audited:?}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysts_see_their_own_jobs_and_read_only_users_see_all() {
    let app = TestApp::start().await;
    add_user(&app, "ann", &[Role::Analyst]).await;
    add_user(&app, "dan", &[Role::DataOwner]).await;
    add_user(&app, "rita", &[Role::ReadOnly]).await;
    let (ann, _) = tokens(&app, "ann").await;
    let (dan, _) = tokens(&app, "dan").await;
    let (rita, _) = tokens(&app, "rita").await;
    let response = reqwest::Client::new()
        .post(app.url("/api/jobs"))
        .bearer_auth(&ann)
        .json(&json!({"kind": "sleep", "params": {"millis": 1, "tasks": 1}, "owner": "dan"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["owner"], "ann", "the body cannot claim another owner");
    let id = job["id"].as_str().unwrap();
    app.wait_for_success(id.parse().unwrap()).await;

    let listed = |token: String| {
        let url = app.url("/api/jobs");
        async move {
            let jobs: Vec<Value> = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            jobs.len()
        }
    };
    assert_eq!(listed(ann.clone()).await, 1);
    assert_eq!(listed(dan.clone()).await, 0);
    assert_eq!(listed(rita.clone()).await, 1);
    assert_eq!(listed(app.admin_token.clone()).await, 1);
    for path in [format!("/api/jobs/{id}"), format!("/api/jobs/{id}/result")] {
        assert_eq!(
            get_as(&app, &path, &ann).await.status(),
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            get_as(&app, &path, &rita).await.status(),
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            get_as(&app, &path, &dan).await.status(),
            StatusCode::NOT_FOUND,
            "{path}: another user's job does not exist for them"
        );
    }
    let cancel = reqwest::Client::new()
        .post(app.url(&format!("/api/jobs/{id}/cancel")))
        .bearer_auth(&rita)
        .send()
        .await
        .unwrap();
    assert_eq!(
        cancel.status(),
        StatusCode::FORBIDDEN,
        "read-only cannot cancel"
    );
    assert_eq!(
        get_as(&app, "/api/config", &ann).await.status(),
        StatusCode::FORBIDDEN,
        "config is for admins"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_project_creation_needs_an_analyst_token() {
    let app = TestApp::start_protected().await;
    add_user(&app, "ann", &[Role::Analyst]).await;
    add_user(&app, "rita", &[Role::ReadOnly]).await;
    let body = json!({"schema": {}, "result_type": "groups", "number_parties": 2});
    let create = |token: Option<String>| {
        let url = app.url("/api/v1/projects");
        let body = body.clone();
        async move {
            let mut request = reqwest::Client::new().post(url).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send().await.unwrap()
        }
    };
    assert_eq!(create(None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        create(Some("not a token".into())).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (rita, _) = tokens(&app, "rita").await;
    assert_eq!(create(Some(rita)).await.status(), StatusCode::FORBIDDEN);
    let (ann, _) = tokens(&app, "ann").await;
    let created = create(Some(ann)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let project: Value = created.json().await.unwrap();
    // Uploads and results keep the per-project tokens.
    let project_id = project["project_id"].as_str().unwrap();
    let describe = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/projects/{project_id}")))
        .header("Authorization", project["result_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(describe.status(), StatusCode::OK);
    let audited = actions(&app).await;
    assert!(
        audited
            .iter()
            .any(|(action, actor, _)| action == "project.create" && actor == "ann"),
        "{audited:?}"
    );
    app.stop().await;
}
