//! The OpenAPI document served at `/openapi.json`, checked against the live router (see `common` for
//! the harness): the document lists exactly the routes in [`ROUTES`], each with the statuses its
//! handler answers; the router serves every one of them; and live answers have the documented shape.

mod common;

use std::collections::BTreeSet;

use common::{base64_all, party_encodings, schema, App, Project};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use veil_metadata::testsuite::fresh_sqlite;

/// Every route the router serves, with the statuses its handler answers — plus 503 (rate limited)
/// everywhere and 413 (body limit) on routes that read a body, which Veil's server limits add.
const ROUTES: &[(&str, &str, &[u16])] = &[
    ("GET", "/status", &[200, 503]),
    ("GET", "/version", &[200, 503]),
    ("GET", "/openapi.json", &[200, 503]),
    ("GET", "/projects", &[200, 503]),
    ("POST", "/projects", &[201, 400, 413, 503]),
    ("GET", "/projects/{project_id}", &[200, 403, 500, 503]),
    ("DELETE", "/projects/{project_id}", &[204, 403, 503]),
    (
        "POST",
        "/projects/{project_id}/clks",
        &[201, 400, 403, 413, 500, 503],
    ),
    (
        "POST",
        "/projects/{project_id}/binaryclks",
        &[201, 400, 403, 413, 503],
    ),
    (
        "GET",
        "/projects/{project_id}/authorize-external-upload",
        &[500, 503],
    ),
    ("GET", "/projects/{project_id}/runs", &[200, 403, 500, 503]),
    (
        "POST",
        "/projects/{project_id}/runs",
        &[201, 400, 403, 413, 503],
    ),
    (
        "GET",
        "/projects/{project_id}/runs/{run_id}",
        &[200, 403, 503],
    ),
    (
        "DELETE",
        "/projects/{project_id}/runs/{run_id}",
        &[204, 403, 503],
    ),
    (
        "GET",
        "/projects/{project_id}/runs/{run_id}/status",
        &[200, 403, 500, 503],
    ),
    (
        "GET",
        "/projects/{project_id}/runs/{run_id}/result",
        &[200, 403, 404, 500, 503],
    ),
];

/// The served OpenAPI document, with the lookups and the (partial) JSON Schema check the tests need.
struct Document(Value);

impl Document {
    async fn fetch(app: &App) -> Document {
        let response = app
            .http
            .get(format!("{}/openapi.json", app.base))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        Document(response.json().await.expect("JSON document"))
    }

    /// `node`, or what its `$ref` (`#/components/…`) points to.
    fn resolve<'a>(&'a self, node: &'a Value) -> &'a Value {
        match node.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').expect("a local $ref");
                let target = self.0.pointer(pointer);
                self.resolve(target.unwrap_or_else(|| panic!("dangling $ref {reference}")))
            }
            None => node,
        }
    }

    fn operation(&self, method: &str, path: &str) -> &Value {
        let operation = &self.0["paths"][path][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not documented");
        operation
    }

    fn statuses(&self, method: &str, path: &str) -> BTreeSet<u16> {
        let responses = self.operation(method, path)["responses"].as_object();
        let responses = responses.unwrap_or_else(|| panic!("{method} {path} has no responses"));
        responses
            .keys()
            .map(|status| status.parse().expect("a numeric status"))
            .collect()
    }

    /// Checks a live answer: its status is documented for the operation, and a JSON body has the
    /// documented shape.
    fn check_answer(&self, method: &str, path: &str, status: StatusCode, body: &Value) {
        let operation = self.operation(method, path);
        let response = &operation["responses"][status.as_str()];
        assert!(
            response.is_object(),
            "{method} {path} answered undocumented {status}: {body}"
        );
        let response = self.resolve(response);
        let schema = response["content"]["application/json"]["schema"]
            .as_object()
            .or_else(|| response["content"]["application/problem+json"]["schema"].as_object());
        match schema {
            Some(schema) => {
                let schema = Value::Object(schema.clone());
                if let Err(err) = self.check(&schema, body, "") {
                    panic!("{method} {path} {status}: {err}\nbody: {body}");
                }
            }
            None => assert!(
                body.is_null(),
                "{method} {path} {status} has an undocumented body"
            ),
        }
    }

    /// Whether `value` fits `schema`: `type`, `enum`, bounds, `properties` (no unknown ones),
    /// `required`, `items`, `prefixItems`, `minItems`, `additionalProperties`, `oneOf` and `$ref`.
    fn check(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(options) = schema["oneOf"].as_array() {
            let fits = options
                .iter()
                .filter(|option| self.check(option, value, at).is_ok());
            return match fits.count() {
                1 => Ok(()),
                n => Err(format!("{at}: {value} fits {n} of the oneOf options")),
            };
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits_type = |name: &str| match name {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        };
        if !types.is_empty() && !types.iter().any(|name| fits_type(name)) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
        if let Some(allowed) = schema["enum"].as_array() {
            if !allowed.contains(value) {
                return Err(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        if let Some(number) = value.as_f64() {
            let below = schema["minimum"].as_f64().is_some_and(|min| number < min);
            let above = schema["maximum"].as_f64().is_some_and(|max| number > max);
            if below || above {
                return Err(format!("{at}: {number} is out of bounds"));
            }
        }
        if let Value::Object(fields) = value {
            let properties = schema["properties"].as_object();
            for (name, field) in fields {
                let field_at = format!("{at}/{name}");
                match (
                    properties.and_then(|p| p.get(name)),
                    &schema["additionalProperties"],
                ) {
                    (Some(property), _) => self.check(property, field, &field_at)?,
                    (None, additional) if additional.is_object() => {
                        self.check(additional, field, &field_at)?
                    }
                    (None, _) if properties.is_some() => {
                        return Err(format!("{field_at} is not a documented field"))
                    }
                    (None, _) => {}
                }
            }
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                if !fields.contains_key(name) {
                    return Err(format!("{at}: required field '{name}' is missing"));
                }
            }
        }
        if let Value::Array(elements) = value {
            let prefix = schema["prefixItems"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            if let Some(min) = schema["minItems"].as_u64() {
                if (elements.len() as u64) < min {
                    return Err(format!("{at}: fewer than {min} elements"));
                }
            }
            for (index, element) in elements.iter().enumerate() {
                let element_at = format!("{at}/{index}");
                match (prefix.get(index), &schema["items"]) {
                    (Some(item), _) => self.check(item, element, &element_at)?,
                    (None, Value::Bool(false)) => {
                        return Err(format!("{element_at}: more elements than documented"))
                    }
                    (None, items) if items.is_object() => {
                        self.check(items, element, &element_at)?
                    }
                    (None, _) => {}
                }
            }
        }
        Ok(())
    }
}

/// Every `$ref` anywhere in `node`.
fn references(node: &Value, found: &mut Vec<String>) {
    match node {
        Value::Object(fields) => {
            if let Some(Value::String(reference)) = fields.get("$ref") {
                found.push(reference.clone());
            }
            fields.values().for_each(|child| references(child, found));
        }
        Value::Array(children) => children.iter().for_each(|child| references(child, found)),
        _ => {}
    }
}

#[tokio::test]
async fn document_is_openapi_3_with_every_route_and_its_statuses() {
    let app = App::start(fresh_sqlite().await).await;
    let document = Document::fetch(&app).await;
    let doc = &document.0;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["info"]["title"],
        "Veil — Anonlink Entity Service compatible API"
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    serde_json::from_value::<utoipa::openapi::OpenApi>(doc.clone()).expect("an OpenAPI object");
    let mut found = Vec::new();
    references(doc, &mut found);
    assert!(!found.is_empty());
    for reference in &found {
        document.resolve(&json!({ "$ref": reference }));
    }

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("a path item").keys();
            methods.map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path, _)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(documented, served, "the document and the router disagree");

    for (method, path, statuses) in ROUTES {
        let expected: BTreeSet<u16> = statuses.iter().copied().collect();
        assert_eq!(document.statuses(method, path), expected, "{method} {path}");
        let operation = document.operation(method, path);
        let parameters = operation["parameters"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let named = |name: &str, place: &str| {
            parameters
                .iter()
                .any(|p| p["name"] == name && p["in"] == place)
        };
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(|c| c == '{' || c == '}');
            assert!(
                named(name, "path"),
                "{method} {path} does not declare {name}"
            );
        }
        let takes_token = path.contains("{project_id}") && !path.ends_with("external-upload");
        assert_eq!(
            named("Authorization", "header"),
            takes_token,
            "{method} {path}"
        );
        let reads_body = statuses.contains(&413);
        assert_eq!(
            operation["requestBody"].is_object(),
            reads_body,
            "{method} {path}"
        );
    }
    let result = document.operation("GET", "/projects/{project_id}/runs/{run_id}/result");
    let query = result["parameters"].as_array().expect("parameters");
    assert!(query
        .iter()
        .any(|p| p["name"] == "include_scores" && p["in"] == "query"));
    let binary = document.operation("POST", "/projects/{project_id}/binaryclks");
    let headers: Vec<&Value> = binary["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .collect();
    for header in ["Hash-Count", "Hash-Size"] {
        assert!(
            headers
                .iter()
                .any(|p| p["name"] == header && p["in"] == "header"),
            "{header}"
        );
    }
    assert!(binary["requestBody"]["content"]["application/octet-stream"].is_object());
    app.stop().await;
}

#[tokio::test]
async fn the_router_serves_every_documented_route() {
    let app = App::start(fresh_sqlite().await).await;
    let document = Document::fetch(&app).await;
    let project = app
        .create(json!({"schema": schema(), "result_type": "groups"}))
        .await;
    let run = app.create_run(&project, 0.9).await;
    let no_route = app.get("/no-such-route", None).await;
    assert_eq!(no_route.0, StatusCode::NOT_FOUND);

    // Deletions last (the run's before the project's), so that every request finds its resources.
    let mut routes: Vec<_> = ROUTES.iter().collect();
    routes.sort_by_key(|(method, path, _)| (*method == "DELETE", usize::MAX - path.len()));
    for (method, template, _) in routes {
        let path = template
            .replace("{project_id}", &project.id)
            .replace("{run_id}", &run);
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let (status, body) = app
            .send(method.clone(), &path, Some(&project.result), None)
            .await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {template}: {body}"
        );
        assert_ne!(
            (status, &body),
            (no_route.0, &no_route.1),
            "{method} {template} is not routed"
        );
        document.check_answer(method.as_str(), template, status, &body);
    }
    app.stop().await;
}

/// Creates a project and checks the answer; returns it.
async fn create_project(app: &App, document: &Document, result_type: &str) -> Project {
    let body = json!({"schema": schema(), "result_type": result_type, "name": "openapi"});
    let (status, created) = app.post("/projects", None, body).await;
    document.check_answer("POST", "/projects", status, &created);
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = |value: &Value| value.as_str().expect("a token").to_string();
    Project {
        id: token(&created["project_id"]),
        result: token(&created["result_token"]),
        updates: created["update_tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .map(token)
            .collect(),
    }
}

#[tokio::test]
async fn live_answers_have_the_documented_shapes() {
    let app = App::start(fresh_sqlite().await).await;
    let document = Document::fetch(&app).await;
    for path in ["/status", "/version"] {
        let (status, body) = app.get(path, None).await;
        document.check_answer("GET", path, status, &body);
    }
    let (count, size) = (40, 128);
    let encodings_a = party_encodings(7, 1, count, size, 20);
    let encodings_b = party_encodings(7, 2, count, size, 20);
    for result_type in ["groups", "permutations", "similarity_scores"] {
        let project = create_project(&app, &document, result_type).await;
        let at = |suffix: &str| format!("/projects/{}{suffix}", project.id);
        let token = Some(project.result.as_str());
        let check = |method: &str, template: &str, (status, body): (StatusCode, Value)| {
            document.check_answer(method, template, status, &body);
            assert!(status.is_success(), "{method} {template}: {status} {body}");
            body
        };
        check(
            "GET",
            "/projects/{project_id}",
            app.get(&at(""), token).await,
        );
        let created = app
            .post(&at("/runs"), token, json!({"threshold": 0.8, "notes": "n"}))
            .await;
        let run = check("POST", "/projects/{project_id}/runs", created)["run_id"]
            .as_str()
            .expect("run id")
            .to_string();
        check(
            "GET",
            "/projects/{project_id}/runs",
            app.get(&at("/runs"), token).await,
        );
        let run_path = format!("/runs/{run}");
        let status_path = format!("/runs/{run}/status");
        let described = app.get(&at(&run_path), token).await;
        check("GET", "/projects/{project_id}/runs/{run_id}", described);
        let waiting = app.get(&at(&status_path), token).await;
        check(
            "GET",
            "/projects/{project_id}/runs/{run_id}/status",
            waiting,
        );

        let clks = json!({"clks": base64_all(&encodings_a)});
        let uploaded = app
            .post(&at("/clks"), Some(&project.updates[0]), clks)
            .await;
        let receipt_a = check("POST", "/projects/{project_id}/clks", uploaded);
        let uploaded = app
            .upload_binary(&project, 1, &encodings_b, count, size)
            .await;
        let receipt_b = check("POST", "/projects/{project_id}/binaryclks", uploaded);

        let finished = app.wait_for_run(&project, &run).await;
        assert_eq!(finished["state"], "completed", "{finished}");
        let status = (StatusCode::OK, finished);
        check("GET", "/projects/{project_id}/runs/{run_id}/status", status);
        let result = "/projects/{project_id}/runs/{run_id}/result";
        let mut queries = vec![(project.result.clone(), "")];
        match result_type {
            "groups" => queries.push((project.result.clone(), "?include_scores=true")),
            "permutations" => {
                for receipt in [&receipt_a, &receipt_b] {
                    let receipt = receipt["receipt_token"].as_str().expect("receipt token");
                    queries.push((receipt.to_string(), ""));
                }
            }
            _ => {}
        }
        for (token, query) in queries {
            let body = check(
                "GET",
                result,
                app.result(&project, &run, &token, query).await,
            );
            // Non-empty lists, so that their elements are checked too.
            let fields = body.as_object().expect("a result object");
            let filled = |list: &Value| list.as_array().is_some_and(|list| !list.is_empty());
            assert!(
                !fields.is_empty() && fields.values().all(|v| filled(v) || v.is_u64()),
                "{body}"
            );
        }
    }
    check_list(&app, &document).await;
    app.stop().await;
}

async fn check_list(app: &App, document: &Document) {
    let (status, body) = app.get("/projects", None).await;
    assert_eq!(body.as_array().map(Vec::len), Some(3), "{body}");
    document.check_answer("GET", "/projects", status, &body);
}
