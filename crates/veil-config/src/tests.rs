use std::collections::HashMap;
use std::io::Write;

use secrecy::ExposeSecret;

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write_config(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn load_text(text: &str) -> Result<Config, ConfigError> {
    let file = write_config(text);
    Config::load(Some(file.path()), &HashMap::new())
}

#[test]
fn defaults_are_embedded_and_local() {
    let config = Config::defaults();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8851");
    assert_eq!(config.data_dir, PathBuf::from("./veil-data"));
    assert_eq!(
        config.metadata.url.expose_secret(),
        "sqlite://./veil-data/veil.db"
    );
    assert!(
        config.blob.url.starts_with("file://"),
        "{}",
        config.blob.url
    );
    assert!(
        config.blob.url.ends_with("veil-data/blobs"),
        "{}",
        config.blob.url
    );
    assert_eq!(config.log.format, LogFormat::Human);
    let server = &config.server;
    assert_eq!(
        server.max_body_bytes,
        1024 * 1024 * 1024,
        "uploads up to 1 GiB"
    );
    assert_eq!(
        server.max_request_bytes,
        1024 * 1024,
        "other requests up to 1 MiB"
    );
    assert_eq!(server.request_timeout.as_secs(), 60);
    assert_eq!(server.upload_timeout.as_secs(), 3600);
    assert_eq!(server.max_concurrent_uploads, 4);
    assert_eq!(
        server.global_rate_limit_per_second, 0,
        "off unless configured"
    );
}

#[test]
fn dispatcher_sources_are_read_and_mistakes_named() {
    let config = load_text(
        "version = 1\n[queue]\nurl = \"amqp://u:pw@mq:5672/%2f\"\n[dispatcher]\nenvironment = \"clinic\"\n\
         [dispatcher.sources.records]\ntype = \"files\"\nroot = \"/data/records\"\n",
    )
    .unwrap();
    assert_eq!(config.dispatcher.environment, "clinic");
    assert!(matches!(
        &config.dispatcher.sources["records"],
        crate::SourceConfig::Files { root } if root == &PathBuf::from("/data/records")
    ));
    let shown = config.to_redacted_toml();
    assert!(!shown.contains("pw@"), "{shown}");
    assert!(shown.contains("/data/records"), "{shown}");
    assert_eq!(Config::defaults().dispatcher.environment, "local");
    assert!(Config::defaults().queue.url.is_none());

    for (text, key) in [
        ("[queue]\nurl = \"http://mq\"\n", "queue.url"),
        (
            "[dispatcher]\nenvironment = \"a b\"\n",
            "dispatcher.environment",
        ),
        (
            "[dispatcher.sources.x]\ntype = \"ftp\"\n",
            "dispatcher.sources.x.type",
        ),
        (
            "[dispatcher.sources.x]\ntype = \"files\"\n",
            "dispatcher.sources.x.root",
        ),
    ] {
        let err = load_text(&format!("version = 1\n{text}")).unwrap_err();
        assert!(err.to_string().contains(key), "{text}: {err}");
    }
}

#[test]
fn tls_needs_both_files_and_shows_them() {
    let err = load_text("version = 1\n[server.tls]\ncert_file = \"/c.pem\"\n").unwrap_err();
    assert!(err.to_string().contains("server.tls.key_file"), "{err}");
    let config =
        load_text("version = 1\n[server.tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n")
            .unwrap();
    let tls = config.server.tls.clone().unwrap();
    assert_eq!(tls.cert_file, PathBuf::from("/c.pem"));
    let shown = config.to_redacted_toml();
    assert!(
        shown.contains("[server.tls]") && shown.contains("/k.pem"),
        "{shown}"
    );
    assert!(Config::defaults().server.tls.is_none());
}

#[test]
fn zero_timeouts_and_request_sizes_are_refused() {
    for key in [
        "max_request_kib",
        "request_timeout_seconds",
        "upload_timeout_seconds",
    ] {
        let err = load_text(&format!("version = 1\n[server]\n{key} = 0\n")).unwrap_err();
        assert!(err.to_string().contains(&format!("server.{key}")), "{err}");
    }
}

#[test]
fn environment_overrides_the_file() {
    let file = write_config("version = 1\n[server]\nlisten = \"127.0.0.1:9000\"\n");
    let config = Config::load(
        Some(file.path()),
        &env(&[
            ("VEIL_LISTEN", "0.0.0.0:7000"),
            ("VEIL_DATA_DIR", "/tmp/veil"),
        ]),
    )
    .unwrap();
    assert_eq!(config.server.listen.to_string(), "0.0.0.0:7000");
    assert_eq!(
        config.metadata.url.expose_secret(),
        "sqlite:///tmp/veil/veil.db"
    );
}

#[test]
fn every_listed_variable_is_applied() {
    let secret = write_config("s3cret\n");
    let secret_path = secret.path().to_str().unwrap();
    let url_file = write_config("postgres://veil:pw@db/veil\n");
    let url_path = url_file.path().to_str().unwrap();
    let key_file = write_config("0123456789abcdef0123456789abcdef\n");
    let key_path = key_file.path().to_str().unwrap();
    let mut pairs: Vec<(&str, &str)> = vec![];
    for (var, _) in ENV_OVERRIDES {
        let value = match *var {
            "VEIL_LISTEN" => "127.0.0.1:1",
            "VEIL_DATA_DIR" => "/data",
            "VEIL_METADATA_URL" | "VEIL_S3_ACCESS_KEY_ID" | "VEIL_S3_SECRET_ACCESS_KEY" => continue,
            "VEIL_QUEUE_URL_FILE" => continue,
            "VEIL_QUEUE_URL" => "amqp://guest:guest@broker:5672/%2f",
            "VEIL_DISPATCHER_ENVIRONMENT" => "clinic-a",
            "VEIL_METADATA_URL_FILE" => url_path,
            "VEIL_AUTH_TOKEN_KEY" | "VEIL_ADMIN_PASSWORD" => continue,
            "VEIL_AUTH_TOKEN_KEY_FILE" => key_path,
            "VEIL_AUTH_PROTECT_PROJECT_CREATION" => "true",
            "VEIL_ADMIN_USER" => "root-admin",
            v if v.ends_with("_FILE") => secret_path,
            "VEIL_BLOB_URL" => "s3://bucket/prefix",
            "VEIL_S3_ENDPOINT" => "http://127.0.0.1:9090",
            "VEIL_S3_REGION" => "eu-west-1",
            "VEIL_S3_ALLOW_HTTP" => "true",
            "VEIL_LOG_FORMAT" => "json",
            "VEIL_LOG" => "debug",
            "VEIL_QUEUE_LEASE_SECONDS" => "20",
            "VEIL_RUNNER" => "kubernetes",
            "VEIL_KUBERNETES_NAMESPACE" => "veil-tasks",
            "VEIL_KUBERNETES_IMAGE" => "registry.example/veil:1",
            "VEIL_REGISTRATION_API_URL" => "https://10.0.0.1:6443",
            "VEIL_REGISTRATION_SERVICE_NAME" => "veil-server",
            "VEIL_REGISTRATION_NAMESPACE" => "veil",
            "VEIL_REGISTRATION_IN_CLUSTER" => "false",
            "VEIL_REGISTRATION_ADDRESS" => "10.1.2.3",
            "VEIL_REGISTRATION_FILE_PATH" => continue,
            _ => "3",
        };
        pairs.push((var, value));
    }
    let config = Config::load(None, &env(&pairs)).unwrap();
    assert_eq!(
        config.metadata.url.expose_secret(),
        "postgres://veil:pw@db/veil"
    );
    assert_eq!(
        config
            .blob
            .s3
            .secret_access_key
            .as_ref()
            .unwrap()
            .expose_secret(),
        "s3cret"
    );
    assert_eq!(config.worker.concurrency, 3);
    assert_eq!(config.dispatcher.environment, "clinic-a");
    assert!(config.auth.protect_project_creation);
    let admin = config.auth.first_admin.as_ref().unwrap();
    assert_eq!(
        (admin.name.as_str(), admin.password.expose_secret()),
        ("root-admin", "s3cret")
    );
    assert_eq!(
        config.auth.token_key.as_ref().unwrap().expose_secret(),
        "0123456789abcdef0123456789abcdef"
    );
    assert_eq!(config.dispatcher.concurrency, 3);
    assert_eq!(
        config.queue.url.as_ref().unwrap().expose_secret(),
        "amqp://guest:guest@broker:5672/%2f"
    );
    assert_eq!(config.server.max_request_bytes, 3 * 1024);
    assert_eq!(config.server.request_timeout.as_secs(), 3);
    assert_eq!(config.server.upload_timeout.as_secs(), 3);
    assert_eq!(config.server.max_concurrent_uploads, 3);
    assert_eq!(config.server.global_rate_limit_per_second, 3);
    assert_eq!(config.queue.lease.as_secs(), 20);
    assert_eq!(config.log.format, LogFormat::Json);
    assert!(config.blob.s3.allow_http);
    assert_eq!(config.runner, RunnerKind::Kubernetes);
    assert_eq!(config.kubernetes.namespace, "veil-tasks");
    assert_eq!(
        config.kubernetes.image.as_deref(),
        Some("registry.example/veil:1")
    );
    assert_eq!(config.kubernetes.service_account.as_deref(), Some("3"));
    assert_eq!(config.kubernetes.env_from_secret.as_deref(), Some("3"));
    let registration = &config.registration;
    assert_eq!(
        registration.api_url.as_deref(),
        Some("https://10.0.0.1:6443")
    );
    assert_eq!(registration.service_name, "veil-server");
    assert_eq!(registration.namespace, "veil");
    assert_eq!(registration.in_cluster, Some(false));
    assert_eq!(registration.address, Some("10.1.2.3".parse().unwrap()));
    assert_eq!(
        registration.ca_file.as_deref(),
        Some(std::path::Path::new(secret_path))
    );
    let file_path = Config::load(None, &env(&[("VEIL_REGISTRATION_FILE_PATH", "/run/k8s")]));
    assert_eq!(
        file_path.unwrap().registration.file_path,
        Some(PathBuf::from("/run/k8s"))
    );
}

#[test]
fn unknown_key_is_named() {
    let err =
        load_text("version = 1\n[server]\nlisten = \"127.0.0.1:1\"\nlistne = 3\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("server.listne"), "{text}");
    assert!(text.contains("unknown field"), "{text}");
}

#[test]
fn mistyped_value_is_named() {
    let err = load_text("version = 1\n[worker]\nconcurrency = \"many\"\n").unwrap_err();
    assert!(err.to_string().contains("worker.concurrency"), "{err}");
}

#[test]
fn missing_or_wrong_version_is_refused() {
    assert!(load_text("")
        .unwrap_err()
        .to_string()
        .starts_with("version: missing"));
    assert!(load_text("version = 7")
        .unwrap_err()
        .to_string()
        .contains("unsupported version 7"));
}

#[test]
fn bad_urls_are_named() {
    let err = load_text("version = 1\n[metadata]\nurl = \"mysql://x/y\"\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "metadata.url: unsupported scheme `mysql` (expected sqlite:// or postgres://)"
    );
    let err = Config::load(None, &env(&[("VEIL_BLOB_URL", "ftp://x")])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("VEIL_BLOB_URL: unsupported scheme `ftp`"),
        "{err}"
    );
    let err = Config::load(None, &env(&[("VEIL_LISTEN", "localhost")])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("VEIL_LISTEN: expected HOST:PORT"),
        "{err}"
    );
}

#[test]
fn unreadable_secret_file_is_named() {
    let err = Config::load(
        None,
        &env(&[("VEIL_S3_SECRET_ACCESS_KEY_FILE", "/nonexistent/secret")]),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "VEIL_S3_SECRET_ACCESS_KEY_FILE: cannot read secret file /nonexistent/secret"
        ),
        "{text}"
    );
}

#[test]
fn bad_numbers_in_environment_are_named() {
    let err = Config::load(None, &env(&[("VEIL_WORKER_CONCURRENCY", "lots")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "VEIL_WORKER_CONCURRENCY: expected a whole number, got `lots`"
    );
    let err = Config::load(None, &env(&[("VEIL_WORKER_CONCURRENCY", "0")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "VEIL_WORKER_CONCURRENCY: must be at least 1"
    );
}

#[test]
fn heartbeat_must_be_shorter_than_lease() {
    let err =
        load_text("version = 1\n[queue]\nlease_seconds = 5\nheartbeat_seconds = 5\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("queue.heartbeat_seconds: must be shorter"),
        "{err}"
    );
}

#[test]
fn redacted_view_hides_secrets_and_is_a_valid_config() {
    let config = Config::load(
        None,
        &env(&[
            ("VEIL_METADATA_URL", "postgres://veil:hunter2@db:5432/veil"),
            ("VEIL_S3_SECRET_ACCESS_KEY", "topsecret"),
            ("VEIL_S3_ACCESS_KEY_ID", "AKIA123"),
        ]),
    )
    .unwrap();
    let shown = config.to_redacted_toml();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("topsecret"), "{shown}");
    assert!(!shown.contains("AKIA123"), "{shown}");
    assert!(
        shown.contains("postgres://veil:%5Bredacted%5D@db:5432/veil"),
        "{shown}"
    );
    let reparsed = load_text(&shown.replace("access_key_id = \"[redacted]\"\n", ""));
    assert!(
        reparsed.is_ok(),
        "config show output must parse as a config file: {reparsed:?}"
    );
}

#[test]
fn kubernetes_defaults_keep_tasks_in_process() {
    let config = Config::defaults();
    assert_eq!(config.runner, RunnerKind::Process);
    assert_eq!(config.kubernetes.backoff_limit, 2);
    assert_eq!(config.kubernetes.ttl_seconds_after_finished, 3600);
    assert_eq!(config.kubernetes.log_tail_lines, 50);
    assert!(
        config.kubernetes.command.is_empty(),
        "the image's entrypoint"
    );
    assert_eq!(
        config.registration.ports,
        [RegistrationPort {
            name: "http".to_string(),
            port: 8851,
            target_port: 8851
        }]
    );
    assert_eq!(config.registration.in_cluster, None, "detected at run time");
    assert_eq!(
        config.registration.selector["app.kubernetes.io/name"],
        "veil"
    );
}

#[test]
fn kubernetes_sections_are_read_from_the_file() {
    let config = load_text(
        r#"version = 1
runner = "kubernetes"
[kubernetes]
namespace = "veil"
image = "registry.example/veil:1"
service_account = "veil-task"
backoff_limit = 0
ttl_seconds_after_finished = 60
cpu_request = "500m"
memory_request = "512Mi"
cpu_limit = "2"
memory_limit = "1.5Gi"
log_tail_lines = 20
env_from_secret = "veil-env"
env = { VEIL_LOG = "debug" }
command = ["/usr/local/bin/veil"]
volumes = [{ name = "config", mount_path = "/etc/veil", config_map = "veil-config" }, { name = "records", mount_path = "/data", claim = "clinic", read_only = false }]
[registration]
api_url = "https://k8s.example:6443"
namespace = "veil"
service_name = "veil-hpc"
ports = [{ name = "http", port = 80, target_port = 8851 }, { name = "metrics", port = 9090 }]
selector = { app = "veil" }
token_file = "/run/secrets/token"
ca_file = "/run/secrets/ca.pem"
in_cluster = false
address = "192.168.1.20"
"#,
    )
    .unwrap();
    assert_eq!(config.runner, RunnerKind::Kubernetes);
    assert_eq!(config.kubernetes.backoff_limit, 0);
    assert_eq!(config.kubernetes.memory_limit.as_deref(), Some("1.5Gi"));
    assert_eq!(config.kubernetes.env["VEIL_LOG"], "debug");
    assert_eq!(config.kubernetes.command, ["/usr/local/bin/veil"]);
    let ports = &config.registration.ports;
    assert_eq!((ports[0].port, ports[0].target_port), (80, 8851));
    assert_eq!((ports[1].port, ports[1].target_port), (9090, 9090));
    assert_eq!(config.registration.selector["app"], "veil");
    assert_eq!(
        config.registration.address,
        Some("192.168.1.20".parse().unwrap())
    );

    let shown = config.to_redacted_toml();
    assert!(shown.contains("runner = \"kubernetes\""), "{shown}");
    assert!(!shown.contains("debug"), "env values are redacted: {shown}");
    let reparsed = load_text(&shown).expect("config show output parses");
    assert_eq!(reparsed.registration, config.registration);
    assert_eq!(reparsed.kubernetes.image, config.kubernetes.image);
    assert_eq!(reparsed.kubernetes.volumes, config.kubernetes.volumes);
    let volumes = &config.kubernetes.volumes;
    assert_eq!(
        volumes[0].source,
        crate::KubernetesVolumeSource::ConfigMap("veil-config".into())
    );
    assert!(volumes[0].read_only && !volumes[1].read_only);
    for bad in [
        r#"volumes = [{ name = "x", mount_path = "/x" }]"#,
        r#"volumes = [{ name = "x", mount_path = "/x", claim = "a", secret = "b" }]"#,
        r#"volumes = [{ name = "tmp", mount_path = "/x", claim = "a" }]"#,
        r#"volumes = [{ name = "x", mount_path = "relative", claim = "a" }]"#,
    ] {
        let err = load_text(&format!("version = 1\n[kubernetes]\n{bad}\n")).unwrap_err();
        assert!(
            err.to_string().contains("kubernetes.volumes[0]"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn kubernetes_mistakes_are_named() {
    let err = Config::load(None, &env(&[("VEIL_RUNNER", "slurm")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "VEIL_RUNNER: expected `process` or `kubernetes`, got `slurm`"
    );
    let err = load_text("version = 1\nrunner = \"kubernetes\"\n").unwrap_err();
    assert!(
        err.to_string().starts_with("kubernetes.image: required"),
        "{err}"
    );
    let err = load_text("version = 1\n[kubernetes]\nmemory_limit = \"lots\"\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("kubernetes.memory_limit: `lots` is not a Kubernetes quantity"),
        "{err}"
    );
    let err = load_text("version = 1\n[kubernetes]\nimage_name = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("kubernetes.image_name"), "{err}");
    let err = Config::load(None, &env(&[("VEIL_REGISTRATION_SERVICE_NAME", "1veil")])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("VEIL_REGISTRATION_SERVICE_NAME: `1veil` is not a valid name"),
        "{err}"
    );
    let err =
        load_text("version = 1\n[registration]\nclient_cert_file = \"/c.pem\"\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "registration.client_cert_file: set together with registration.client_key_file"
    );
    let err =
        Config::load(None, &env(&[("VEIL_REGISTRATION_ADDRESS", "host.example")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "VEIL_REGISTRATION_ADDRESS: expected an IP address, got `host.example`"
    );
    let err = Config::load(None, &env(&[("VEIL_REGISTRATION_IN_CLUSTER", "maybe")])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("VEIL_REGISTRATION_IN_CLUSTER: expected true or false"),
        "{err}"
    );
    let err = load_text(
        "version = 1\n[registration]\napi_url = \"https://k8s:6443\"\nfile_path = \"/tmp/k8s\"\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("registration.file_path: set either"),
        "{err}"
    );
    let err = load_text("version = 1\n[registration]\nports = []\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("registration.ports: needs at least one port"),
        "{err}"
    );
}

#[test]
fn auth_defaults_and_errors_name_their_key() {
    let config = load_text("version = 1\n").unwrap();
    assert!(config.auth.token_key.is_none());
    assert!(config.auth.first_admin.is_none());
    assert!(!config.auth.protect_project_creation);
    assert_eq!(config.auth.access_token_ttl.as_secs(), 900);
    assert_eq!(config.auth.issuer, "veil");
    let cases = [
        ("[auth]\ntoken_key = \"short\"\n", "auth.token_key"),
        ("[auth]\nadmin_user = \"root\"\n", "auth.admin_password"),
        (
            "[auth]\nadmin_password = \"correct horse battery\"\n",
            "auth.admin_user",
        ),
        (
            "[auth]\naccess_token_seconds = 0\n",
            "auth.access_token_seconds",
        ),
        (
            "[auth]\naccess_token_seconds = 600\nrefresh_token_seconds = 60\n",
            "auth.refresh_token_seconds",
        ),
        (
            "[auth.oidc]\nissuer = \"https://id\"\njwks_url = \"ftp://x\"\naudience = \"veil\"\n",
            "auth.oidc.jwks_url",
        ),
    ];
    for (text, key) in cases {
        let error = load_text(&format!("version = 1\n{text}"))
            .unwrap_err()
            .to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
    let oidc = load_text(
        "version = 1\n[auth.oidc]\nissuer = \"https://id/realms/veil\"\n\
         jwks_url = \"https://id/certs\"\naudience = \"veil\"\n\
         role_map = { \"veil-admins\" = \"admin\" }\n",
    )
    .unwrap();
    let oidc = oidc.auth.oidc.unwrap();
    assert_eq!(oidc.roles_claim, "realm_access.roles");
    assert_eq!(oidc.role_map["veil-admins"], "admin");
}
