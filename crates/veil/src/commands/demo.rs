//! `veil demo`: the whole linkage flow in one command, for a first look. It starts a server in this
//! process (the `veil serve` code path, on a free port and a temporary data directory), generates
//! two datasets with ground truth, encodes them, links them through the Entity Service API as two
//! parties would, scores the result against the truth and shows the platform job that computed it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use veil_client::entity::{
    NewProject, NewRun, ProjectCredentials, ResultType, RunResult, UploadBody,
};
use veil_client::{EntityClient, VeilClient};
use veil_domain::JobFilter;
use veil_linkage_datagen::{generate, GenError, GeneratorConfig};
use veil_linkage_encoding::{encode_csv, ClkWriter, EncodeOptions, Encoder, OutputFormat, Schema};
use veil_linkage_matching::eval::{evaluate, read_truth_csv};

use super::link::project::parse_run_threshold;
use super::link::{project_results, project_upload};
use super::process;
use crate::UsageError;

/// The secret both demo parties encode with. Real parties agree on theirs out of band.
const DEMO_SECRET: &[u8] = b"veil demo: not a secret";

/// Arguments of `veil demo`.
#[derive(Debug, Args)]
#[command(after_help = "\
Nothing is read from VEIL_* variables or a config file: the server uses the embedded defaults \
(SQLite and local files) in the data directory, which is temporary and removed at the end \
unless --data-dir is given. The demo's files (datasets, truth, schema, CLKs, project \
credentials) go to its `demo` subdirectory.")]
pub struct DemoArgs {
    /// Records per generated dataset.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub records: u64,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 7, value_name = "S")]
    pub seed: u64,
    /// Similarity threshold of the linkage run, in (0, 1].
    #[arg(long, default_value = "0.8", value_name = "T", value_parser = parse_run_threshold)]
    pub threshold: f64,
    /// Keep the server's data and the demo's files here instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to serve on (default: a free port on 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Keep serving after the demo, until Ctrl-C.
    #[arg(long)]
    pub keep_running: bool,
}

/// Runs `veil demo`.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::logging::init(veil_config::LogFormat::Human, "warn");
    let (temporary, data_dir) = match &args.data_dir {
        Some(dir) => (None, dir.clone()),
        None => {
            let temporary = tempfile::tempdir().context("create a temporary data directory")?;
            let path = temporary.path().to_path_buf();
            (Some(temporary), path)
        }
    };
    let files = data_dir.join("demo");
    std::fs::create_dir_all(&files)
        .map_err(|err| UsageError(format!("--data-dir {}: {err}", data_dir.display())))?;
    let environment =
        HashMap::from([("VEIL_DATA_DIR".to_string(), data_dir.display().to_string())]);
    let mut config = veil_config::Config::load(None, &environment)?;
    let admin_password = demo_admin_password(&files)?;
    config.auth.first_admin = Some(veil_config::FirstAdmin {
        name: DEMO_ADMIN.to_string(),
        password: admin_password.clone().into(),
    });
    let listen = args.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    config.server.listen = listener.local_addr()?;
    let server_url = format!("http://{}", config.server.listen);
    let stop = CancellationToken::new();
    let stop_server = stop.clone();
    let mut server = tokio::spawn(process::serve_on(config, listener, move || stop_server));
    println!(
        "Started Veil at {server_url} (data in {})",
        data_dir.display()
    );

    let mut server_ended = None;
    let mut outcome = tokio::select! {
        outcome = tour(&args, &server_url, &files, &admin_password) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        ended = &mut server => {
            let error = anyhow::anyhow!("the server stopped: {}", ended_reason(&ended));
            server_ended = Some(ended);
            Err(error)
        }
    };
    if outcome.is_ok() && args.keep_running && server_ended.is_none() {
        println!("\nServing at {server_url} until Ctrl-C.");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            ended = &mut server => {
                outcome = Err(anyhow::anyhow!("the server stopped: {}", ended_reason(&ended)));
                server_ended = Some(ended);
            }
        }
    }
    stop.cancel();
    if server_ended.is_none() {
        if let Ok(Err(err)) = server.await {
            outcome = outcome.and(Err(err.context("the server failed")));
        }
    }
    if outcome.is_ok() {
        println!("\nStopped the server.");
    }
    drop(temporary);
    outcome
}

fn ended_reason(ended: &Result<anyhow::Result<()>, tokio::task::JoinError>) -> String {
    match ended {
        Ok(Ok(())) => "it shut down".to_string(),
        Ok(Err(err)) => format!("{err:#}"),
        Err(err) => err.to_string(),
    }
}

/// The demo's administrator, who reads the job behind the linkage run from the native API.
const DEMO_ADMIN: &str = "demo-admin";

/// The demo administrator's password: random, kept (owner-only) beside the demo's files so that a
/// second demo on the same `--data-dir` can sign in again.
fn demo_admin_password(files: &Path) -> anyhow::Result<String> {
    let path = files.join("admin-password");
    if let Ok(password) = std::fs::read_to_string(&path) {
        return Ok(password.trim().to_string());
    }
    let password = veil_entity_service::tokens::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("create {}", path.display()))?;
    std::io::Write::write_all(&mut file, password.as_bytes())
        .with_context(|| format!("write {}", path.display()))?;
    Ok(password)
}

/// The demo proper, against the server at `server_url`.
async fn tour(
    args: &DemoArgs,
    server_url: &str,
    files: &Path,
    admin_password: &str,
) -> anyhow::Result<()> {
    let veil = VeilClient::new(server_url)?;
    wait_until_healthy(&veil).await?;
    let tokens = veil
        .login(DEMO_ADMIN, admin_password)
        .await
        .context("sign in as the demo administrator")?;
    let access_token = tokens["access_token"].as_str().unwrap_or_default();
    let veil = veil.with_token(access_token);
    let entity = EntityClient::new(server_url)?;

    println!(
        "\n1. Generating two datasets of {} person records with ground truth",
        args.records
    );
    let generated = generate_data(args.records, args.seed).await?;
    let schema = demo_schema();
    for (name, bytes) in [
        ("a.csv", &generated.a),
        ("b.csv", &generated.b),
        ("truth.csv", &generated.truth),
    ] {
        write(files, name, bytes)?;
    }
    write(
        files,
        "schema.json",
        serde_json::to_string_pretty(&schema)?.as_bytes(),
    )?;

    println!("2. Encoding each party's records into CLKs (the secret never leaves the parties)");
    let (clks_a, clks_b) = tokio::task::spawn_blocking({
        let (a, b, schema) = (generated.a, generated.b, schema.clone());
        move || -> anyhow::Result<_> { Ok((encode(&a, &schema)?, encode(&b, &schema)?)) }
    })
    .await??;
    write(files, "a.json", &clks_a)?;
    write(files, "b.json", &clks_b)?;

    println!("3. Creating a two-party Entity Service project (result type: groups)");
    let credentials = entity
        .create_project(&NewProject {
            schema,
            result_type: ResultType::Groups,
            number_parties: 2,
            name: "veil demo".to_string(),
            notes: String::new(),
            uses_blocking: false,
        })
        .await
        .context("create the project")?;
    write(
        files,
        "project.json",
        serde_json::to_string_pretty(&credentials)?.as_bytes(),
    )?;

    println!("4. Uploading each party's CLKs with its own update token");
    for (party, clks) in [clks_a, clks_b].into_iter().enumerate() {
        upload(&entity, &credentials, party, clks).await?;
    }

    println!("5. Linking at similarity threshold {}", args.threshold);
    let run = entity
        .create_run(
            &credentials.project_id,
            &credentials.result_token,
            &NewRun {
                threshold: args.threshold,
                name: Some("veil demo".to_string()),
                notes: None,
            },
        )
        .await
        .context("create the run")?;
    let (project_id, token) = (&credentials.project_id, &credentials.result_token);
    project_results::watch_run(
        &entity,
        project_id,
        &run.run_id,
        token,
        Duration::from_millis(200),
    )
    .await?;
    let result = entity
        .run_result(project_id, &run.run_id, token)
        .await
        .context("fetch the result")?;
    let RunResult::Groups { groups } = result else {
        anyhow::bail!("the run's result holds no groups");
    };
    let groups: Vec<Vec<(u32, u32)>> = groups
        .into_iter()
        .map(|group| group.into_iter().map(|[party, row]| (party, row)).collect())
        .collect();
    let truth = read_truth_csv(&generated.truth[..]).context("read the generated truth")?;
    let quality = evaluate(&groups, &truth);
    println!(
        "\nMatching quality against the ground truth ({} groups found):\n  \
         precision {:.4} ({} of {} predicted pairs are true)\n  \
         recall    {:.4} ({} of {} true pairs found)\n  \
         F1        {:.4}",
        groups.len(),
        quality.precision,
        quality.true_positives,
        quality.predicted,
        quality.recall,
        quality.true_positives,
        quality.actual,
        quality.f1
    );

    println!("\nThe platform job that computed the run (`veil job describe`):\n");
    describe_run_job(&veil, &run.run_id).await?;
    print_next_steps(server_url, files, args);
    Ok(())
}

async fn wait_until_healthy(veil: &VeilClient) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match veil.health().await {
            Ok(()) => return Ok(()),
            Err(err) if tokio::time::Instant::now() >= deadline => {
                return Err(anyhow::Error::new(err).context("the server did not become healthy"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Datasets A and B and their truth, as CSV.
pub(super) struct Generated {
    pub(super) a: Vec<u8>,
    pub(super) b: Vec<u8>,
    pub(super) truth: Vec<u8>,
}

pub(super) async fn generate_data(records: u64, seed: u64) -> anyhow::Result<Generated> {
    tokio::task::spawn_blocking(move || {
        let config = GeneratorConfig {
            records,
            seed,
            ..GeneratorConfig::default()
        };
        let (mut a, mut b, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        generate(&config, &mut a, &mut b, &mut truth, |_| {}).map_err(|err| match err {
            GenError::InvalidConfig { .. } => anyhow::Error::new(UsageError(err.to_string())),
            other => anyhow::Error::new(other),
        })?;
        Ok(Generated { a, b, truth })
    })
    .await?
}

/// The records of a CSV as clkhash JSON CLKs.
pub(super) fn encode(csv: &[u8], schema: &Value) -> anyhow::Result<Vec<u8>> {
    let schema = Schema::from_json_str(&schema.to_string()).context("the demo schema")?;
    let encoder = Encoder::new(&schema, DEMO_SECRET).context("the demo schema")?;
    let mut writer = ClkWriter::new(Vec::new(), OutputFormat::Json)?;
    let options = EncodeOptions {
        threads: 0,
        chunk_rows: 10_000,
    };
    encode_csv(csv, &encoder, &options, |_| {}, |_, clk| writer.write(&clk))
        .context("encode the generated records")?;
    Ok(writer.finish()?)
}

async fn upload(
    entity: &EntityClient,
    credentials: &ProjectCredentials,
    party: usize,
    clks: Vec<u8>,
) -> anyhow::Result<()> {
    let token = credentials
        .update_tokens
        .get(party)
        .context("the service returned fewer update tokens than parties")?;
    let (bar, progress) =
        project_upload::byte_progress(&format!("party {party}"), clks.len() as u64);
    let body = UploadBody::from_bytes(clks).with_progress(progress);
    let receipt = entity
        .upload_json(&credentials.project_id, token, &body)
        .await;
    bar.finish_and_clear();
    receipt.with_context(|| format!("upload party {party}'s CLKs"))?;
    println!("   party {party}: uploaded {} bytes", body.len());
    Ok(())
}

/// Prints `veil job describe` of the run's job: the `linkage.run` job whose parameters name the
/// run (the Entity Service API does not expose job ids), else the newest such job.
async fn describe_run_job(veil: &VeilClient, run_id: &str) -> anyhow::Result<()> {
    let jobs = veil
        .list_jobs(&JobFilter {
            owner: None,
            state: None,
            kind: Some(veil_entity_service::runs::RUN_JOB_KIND.to_string()),
            limit: Some(100),
        })
        .await
        .context("list the linkage jobs")?;
    let names_run =
        |job: &&veil_domain::Job| job.params.get("run_id").and_then(Value::as_str) == Some(run_id);
    let Some(job) = jobs.iter().find(names_run).or(jobs.first()) else {
        println!("(no linkage job found)");
        return Ok(());
    };
    let description = veil
        .describe_job(job.id)
        .await
        .context("describe the run's job")?;
    print!(
        "{}",
        super::job::render_description(&description, veil_domain::now())
    );
    Ok(())
}

fn print_next_steps(server_url: &str, files: &Path, args: &DemoArgs) {
    if args.data_dir.is_some() || args.keep_running {
        println!(
            "\nThe demo's files (CSVs, schema, CLKs, credentials) are in {}.",
            files.display()
        );
    }
    // Without --keep-running this server is about to stop: point at where `veil serve` listens.
    let (intro, url) = if args.keep_running {
        (
            format!("This server keeps running at {server_url}."),
            server_url,
        )
    } else {
        (
            "Start a server with `veil serve` (or keep this one with `veil demo --keep-running`)."
                .to_string(),
            veil_client::DEFAULT_SERVER,
        )
    };
    println!(
        "\nNext: link your own data. {intro}\n\
         Its Anonlink Entity Service API is {url}/api/v1: point any Entity Service client at \
         {url}, e.g. anonlink-client:\n  \
         anonlink create-project --server {url} --schema schema.json --type groups --output credentials.json\n\
         or veil itself (each party encodes its records with `veil link encode`, the shared secret \
         and the project's schema):\n  \
         veil link project create --server {url} --schema schema.json --type groups -o project.json\n  \
         veil link project upload --server {url} --project project.json --party 0 clks.json\n  \
         veil link project run create --server {url} --project project.json --threshold 0.8\n  \
         veil link project results --server {url} --project project.json --run RUN_ID --watch -o groups.json\n  \
         veil job list --server {url}"
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("write {}", path.display()))
}

/// A clkhash v3 linkage schema for the generated records: every field but the id as bigrams, with
/// more bits for the fields that identify a person best.
pub(super) fn demo_schema() -> Value {
    let bigrams = |identifier: &str, bits: u32| {
        json!({
            "identifier": identifier,
            "format": {"type": "string", "encoding": "utf-8"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2, "positional": false},
                "strategy": {"bitsPerFeature": bits},
                "hash": {"type": "blakeHash"},
                "missingValue": {"sentinel": ""}
            }
        })
    };
    let mut features = vec![json!({"identifier": "rec_id", "ignored": true})];
    for (identifier, bits) in [
        ("given_name", 100),
        ("surname", 100),
        ("street_number", 40),
        ("address_1", 70),
        ("address_2", 40),
        ("suburb", 70),
        ("postcode", 50),
        ("state", 20),
        ("date_of_birth", 100),
        ("soc_sec_id", 100),
    ] {
        features.push(bigrams(identifier, bits));
    }
    json!({
        "version": 3,
        "clkConfig": {
            "l": 1024,
            "xorFolds": 0,
            "kdf": {
                "type": "HKDF",
                "hash": "SHA256",
                "salt": "dmVpbCBkZW1vIHNhbHQ=",
                "info": "dmVpbCBkZW1v",
                "keySize": 64
            }
        },
        "features": features
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_fits_the_generated_records() {
        let generated = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(generate_data(20, 1))
            .unwrap();
        let clks = encode(&generated.a, &demo_schema()).unwrap();
        let document = veil_linkage_matching::read_clk_document(&clks[..], None).unwrap();
        assert_eq!(document.clks().len(), 20);
        assert_eq!(document.clks().clk_bytes(), 128);
    }
}
