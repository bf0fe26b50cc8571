//! Service registration against the fake API server (in the cluster and outside it, replacing a
//! leftover Service, deregistering) and through the file channel.

mod common;

use std::collections::BTreeMap;

use common::FakeApi;
use serde_json::{json, Value};
use veil_kube::{Channel, Placement, PortSettings, Registration, RegistrationSettings};

const SERVICES: &str = "/api/v1/namespaces/veil/services";
const ENDPOINTS: &str = "/api/v1/namespaces/veil/endpoints";

fn settings(placement: Placement) -> RegistrationSettings {
    RegistrationSettings {
        namespace: "veil".to_string(),
        service_name: "veil-server".to_string(),
        ports: vec![PortSettings {
            name: "http".to_string(),
            port: 80,
            target_port: 8851,
        }],
        placement,
    }
}

fn in_cluster() -> Placement {
    Placement::InCluster {
        selector: BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), "veil".to_string()),
            (
                "app.kubernetes.io/component".to_string(),
                "server".to_string(),
            ),
        ]),
    }
}

fn out_of_cluster() -> Placement {
    Placement::OutOfCluster {
        address: "10.20.30.40".parse().unwrap(),
    }
}

fn metadata() -> Value {
    json!({
        "name": "veil-server",
        "namespace": "veil",
        "labels": {
            "app.kubernetes.io/component": "server",
            "app.kubernetes.io/managed-by": "veil",
            "app.kubernetes.io/name": "veil"
        }
    })
}

fn expected_service(selector: Option<Value>) -> Value {
    let mut spec = json!({
        "type": "ClusterIP",
        "ports": [{"name": "http", "port": 80, "targetPort": 8851, "protocol": "TCP"}]
    });
    if let Some(selector) = selector {
        spec["selector"] = selector;
    }
    json!({"apiVersion": "v1", "kind": "Service", "metadata": metadata(), "spec": spec})
}

fn expected_endpoints() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": metadata(),
        "subsets": [{
            "addresses": [{"ip": "10.20.30.40"}],
            "ports": [{"name": "http", "port": 8851, "protocol": "TCP"}]
        }]
    })
}

fn calls(fake: &FakeApi) -> Vec<(String, String)> {
    fake.state
        .requests()
        .iter()
        .map(|request| (request.method.clone(), request.path.clone()))
        .collect()
}

fn call(method: &str, path: &str) -> (String, String) {
    (method.to_string(), path.to_string())
}

#[tokio::test]
async fn in_cluster_registers_a_service_with_a_selector_and_deletes_it() {
    let fake = FakeApi::start().await;
    let registration =
        Registration::new(settings(in_cluster()), Channel::Api(fake.client())).unwrap();
    registration.register().await.unwrap();
    let posted = fake.state.requests_to("POST", SERVICES);
    assert_eq!(
        posted[0].body.clone().unwrap(),
        expected_service(Some(json!({
            "app.kubernetes.io/component": "server",
            "app.kubernetes.io/name": "veil"
        })))
    );
    registration.deregister().await.unwrap();
    let service = format!("{SERVICES}/veil-server");
    assert_eq!(
        calls(&fake),
        [call("POST", SERVICES), call("DELETE", &service)],
        "no Endpoints in the cluster"
    );
    assert!(fake.state.objects.lock().unwrap().is_empty());
}

#[tokio::test]
async fn out_of_cluster_registers_a_selectorless_service_and_endpoints() {
    let fake = FakeApi::start().await;
    let registration =
        Registration::new(settings(out_of_cluster()), Channel::Api(fake.client())).unwrap();
    registration.register().await.unwrap();
    assert_eq!(
        fake.state.requests_to("POST", SERVICES)[0]
            .body
            .clone()
            .unwrap(),
        expected_service(None)
    );
    assert_eq!(
        fake.state.requests_to("POST", ENDPOINTS)[0]
            .body
            .clone()
            .unwrap(),
        expected_endpoints()
    );
    registration.deregister().await.unwrap();
    let (service, endpoints) = (
        format!("{SERVICES}/veil-server"),
        format!("{ENDPOINTS}/veil-server"),
    );
    assert_eq!(
        calls(&fake),
        [
            call("POST", SERVICES),
            call("POST", ENDPOINTS),
            call("DELETE", &endpoints),
            call("DELETE", &service),
        ]
    );
    assert!(fake.state.objects.lock().unwrap().is_empty());
    // Deregistering twice is harmless (404 is fine).
    registration.deregister().await.unwrap();
}

#[tokio::test]
async fn a_leftover_service_is_replaced() {
    let fake = FakeApi::start().await;
    let service = format!("{SERVICES}/veil-server");
    let mut leftover = expected_service(Some(json!({"old": "selector"})));
    leftover["metadata"]["resourceVersion"] = json!("41");
    fake.state
        .objects
        .lock()
        .unwrap()
        .insert(service.clone(), leftover);
    let registration =
        Registration::new(settings(in_cluster()), Channel::Api(fake.client())).unwrap();
    registration.register().await.unwrap();
    assert_eq!(
        calls(&fake),
        [
            call("POST", SERVICES),
            call("GET", &service),
            call("PUT", &service)
        ]
    );
    let put = fake.state.requests_to("PUT", &service)[0]
        .body
        .clone()
        .unwrap();
    assert_eq!(put["metadata"]["resourceVersion"], "41");
    assert_eq!(put["spec"]["selector"]["app.kubernetes.io/name"], "veil");
}

#[tokio::test]
async fn file_channel_writes_the_same_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let registration = Registration::new(
        settings(out_of_cluster()),
        Channel::File(dir.path().join("k8s")),
    )
    .unwrap();
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(dir.path().join("k8s").join(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    registration.register().await.unwrap();
    assert_eq!(
        read("create-service-veil-server.json"),
        json!({"method": "POST", "path": SERVICES, "body": expected_service(None)})
    );
    assert_eq!(
        read("create-endpoints-veil-server.json"),
        json!({"method": "POST", "path": ENDPOINTS, "body": expected_endpoints()})
    );
    registration.deregister().await.unwrap();
    assert_eq!(
        read("delete-service-veil-server.json"),
        json!({"method": "DELETE", "path": format!("{SERVICES}/veil-server")})
    );
    assert_eq!(
        read("delete-endpoints-veil-server.json"),
        json!({"method": "DELETE", "path": format!("{ENDPOINTS}/veil-server")})
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("k8s"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "no temporary files left: {names:?}");
}
