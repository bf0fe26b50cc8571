//! `[dispatcher.sources.NAME]` of types `postgres` and `s3`: read, validated by key, redacted.

use std::collections::HashMap;
use std::io::Write;

use secrecy::ExposeSecret;

use super::*;

fn load_text(text: &str) -> Result<Config, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(format!("version = 1\n{text}").as_bytes())
        .unwrap();
    Config::load(Some(file.path()), &HashMap::new())
}

#[test]
fn postgres_and_s3_sources_are_read_and_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("s3-secret");
    std::fs::write(&secret_file, "wJalrSECRETKEY\n").unwrap();
    let config = load_text(&format!(
        "[dispatcher.sources.crm]\ntype = \"postgres\"\n\
         url = \"postgres://reader:hunter2@db.internal:5432/crm\"\nmax_rows = 100000\n\
         [dispatcher.sources.lake]\ntype = \"s3\"\nbucket = \"clinic-exports\"\nprefix = \"/2026/\"\n\
         endpoint = \"http://minio:9000\"\nregion = \"eu-north-1\"\naccess_key_id = \"AKIAEXAMPLE\"\n\
         secret_access_key_file = {:?}\nallow_http = true\n",
        secret_file.display().to_string()
    ))
    .unwrap();
    let sources = &config.dispatcher.sources;
    let SourceConfig::Postgres { url, max_rows } = &sources["crm"] else {
        panic!("{:?}", sources["crm"]);
    };
    assert_eq!(
        url.expose_secret(),
        "postgres://reader:hunter2@db.internal:5432/crm"
    );
    assert_eq!(*max_rows, Some(100_000));
    let SourceConfig::S3 { bucket, prefix, s3 } = &sources["lake"] else {
        panic!("{:?}", sources["lake"]);
    };
    assert_eq!(
        (bucket.as_str(), prefix.as_str()),
        ("clinic-exports", "2026")
    );
    assert_eq!(s3.endpoint.as_deref(), Some("http://minio:9000"));
    assert_eq!(s3.region, "eu-north-1");
    assert!(s3.allow_http);
    assert_eq!(
        s3.secret_access_key.as_ref().unwrap().expose_secret(),
        "wJalrSECRETKEY"
    );

    let debug = format!("{config:?}");
    let shown = config.to_redacted_toml();
    for hidden in ["hunter2", "AKIAEXAMPLE", "wJalrSECRETKEY"] {
        assert!(!shown.contains(hidden), "{shown}");
        assert!(!debug.contains(hidden), "{debug}");
    }
    assert!(shown.contains("type = \"postgres\""), "{shown}");
    assert!(shown.contains("max_rows = 100000"), "{shown}");
    assert!(shown.contains("bucket = \"clinic-exports\""), "{shown}");
    // The redacted view, less the placeholder credentials, is itself a valid config.
    let reparsed = load_text(
        shown
            .replace("access_key_id = \"[redacted]\"\n", "")
            .replace("secret_access_key = \"[redacted]\"\n", "")
            .trim_start_matches("version = 1\n"),
    );
    assert!(reparsed.is_ok(), "{reparsed:?}\n{shown}");
}

#[test]
fn source_mistakes_name_their_key_and_never_the_secret() {
    for (text, key) in [
        ("type = \"postgres\"\n", "dispatcher.sources.x.url"),
        (
            "type = \"postgres\"\nurl = \"mysql://u:hunter2@db/x\"\n",
            "dispatcher.sources.x.url",
        ),
        (
            "type = \"postgres\"\nurl = \"postgres://u:hunter2@/x\"\n",
            "dispatcher.sources.x.url",
        ),
        (
            "type = \"postgres\"\nurl = \"postgres://db/x\"\nurl_file = \"/nope\"\n",
            "dispatcher.sources.x.url",
        ),
        (
            "type = \"postgres\"\nurl_file = \"/nonexistent/veil-url\"\n",
            "dispatcher.sources.x.url_file",
        ),
        (
            "type = \"postgres\"\nurl = \"postgres://db/x\"\nmax_rows = 0\n",
            "dispatcher.sources.x.max_rows",
        ),
        (
            "type = \"postgres\"\nurl = \"postgres://db/x\"\nroot = \"/data\"\n",
            "dispatcher.sources.x.root",
        ),
        ("type = \"s3\"\n", "dispatcher.sources.x.bucket"),
        (
            "type = \"s3\"\nbucket = \"a/b\"\n",
            "dispatcher.sources.x.bucket",
        ),
        (
            "type = \"s3\"\nbucket = \"b\"\nprefix = \"a/../c\"\n",
            "dispatcher.sources.x.prefix",
        ),
        (
            "type = \"s3\"\nbucket = \"b\"\nendpoint = \"ftp://x\"\n",
            "dispatcher.sources.x.endpoint",
        ),
        (
            "type = \"s3\"\nbucket = \"b\"\naccess_key_id = \"AKIA\"\n",
            "dispatcher.sources.x.secret_access_key",
        ),
        (
            "type = \"s3\"\nbucket = \"b\"\nurl = \"postgres://db/x\"\n",
            "dispatcher.sources.x.url",
        ),
        (
            "type = \"files\"\nroot = \"/data\"\nbucket = \"b\"\n",
            "dispatcher.sources.x.bucket",
        ),
        ("type = \"mysql\"\n", "dispatcher.sources.x.type"),
    ] {
        let error = load_text(&format!("[dispatcher.sources.x]\n{text}")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(key), "{text}: {message}");
        assert!(!message.contains("hunter2"), "{text}: {message}");
    }
}
