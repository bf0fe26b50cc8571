//! `veil selftest --server URL`: an end-to-end smoke test of a running deployment, as `helm test`
//! runs it. It links two small generated datasets through the Entity Service API exactly as two
//! parties would (create a project, upload each party's CLKs, run, fetch the groups), checks the
//! groups against the matching engine run on the same CLKs in this process, and deletes the project
//! again, also when a step fails. Every step is printed; the first failure names its step.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use veil_client::entity::{NewProject, NewRun, ProjectCredentials, ResultType, RunResult};
use veil_client::entity::{RunState, UploadBody};
use veil_client::{EntityClient, VeilClient};
use veil_linkage_matching::{find_candidate_pairs, greedy_solve, ClkSet};

use super::demo::{demo_schema, encode, generate_data};

/// The similarity threshold of the self-test's run.
const THRESHOLD: f64 = 0.8;

/// Arguments of `veil selftest`.
#[derive(Debug, Args)]
pub struct SelftestArgs {
    /// Base URL of the Veil server under test.
    #[arg(long, env = "VEIL_SERVER", default_value = veil_client::DEFAULT_SERVER)]
    pub server: String,
    /// Records per party.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub records: u64,
    /// How long the run may take, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
}

/// A group of `(party, row)` records, sorted.
type Group = Vec<(u32, u32)>;

/// Runs `veil selftest`.
pub async fn run(args: SelftestArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let veil = super::plain_client(&args.server)?;
    let entity =
        EntityClient::new(&args.server).map_err(|err| crate::UsageError(err.to_string()))?;
    step("the server is healthy", health(&veil, &entity)).await?;

    let (clks_a, clks_b) = step("generate and encode two parties' records", async {
        let generated = generate_data(args.records, 11).await?;
        let schema = demo_schema();
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            Ok((
                encode(&generated.a, &schema)?,
                encode(&generated.b, &schema)?,
            ))
        })
        .await?
    })
    .await?;

    let credentials = step("create a two-party linkage project", async {
        Ok(entity
            .create_project(&NewProject {
                schema: demo_schema(),
                result_type: ResultType::Groups,
                number_parties: 2,
                name: "veil selftest".to_string(),
                notes: "created and deleted by `veil selftest`".to_string(),
                uses_blocking: false,
            })
            .await?)
    })
    .await?;

    let linked = link(&entity, &credentials, [&clks_a, &clks_b], args.timeout).await;
    let deleted = step("delete the project", delete(&entity, &credentials)).await;
    let groups = linked?;
    deleted?;
    println!(
        "selftest passed in {:.1} s: {} groups, equal to the engine's",
        started.elapsed().as_secs_f64(),
        groups
    );
    Ok(())
}

/// Prints the step, runs it and says how it went; a failure carries the step's name.
async fn step<T>(
    name: &str,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let started = Instant::now();
    let outcome = work.await;
    let seconds = started.elapsed().as_secs_f64();
    match &outcome {
        Ok(_) => println!("ok    {name} ({seconds:.2} s)"),
        Err(err) => println!("FAIL  {name} ({seconds:.2} s): {err:#}"),
    }
    outcome.with_context(|| format!("selftest step failed: {name}"))
}

async fn health(veil: &VeilClient, entity: &EntityClient) -> anyhow::Result<()> {
    veil.health().await.context("GET /healthz")?;
    let status = entity
        .service_status()
        .await
        .context("GET /api/v1/status")?;
    if status["status"] != "ok" {
        bail!("the Entity Service status is {status}");
    }
    Ok(())
}

/// Uploads both parties, runs the linkage and checks the groups; returns how many groups.
async fn link(
    entity: &EntityClient,
    credentials: &ProjectCredentials,
    clks: [&Vec<u8>; 2],
    timeout: u64,
) -> anyhow::Result<usize> {
    let project = &credentials.project_id;
    let token = &credentials.result_token;
    for (party, clks) in clks.iter().enumerate() {
        step(&format!("upload party {party}'s CLKs"), async {
            let update = credentials
                .update_tokens
                .get(party)
                .context("the service returned fewer update tokens than parties")?;
            let body = UploadBody::from_bytes(clks.to_vec());
            entity.upload_json(project, update, &body).await?;
            Ok(())
        })
        .await?;
    }
    let run = step(&format!("create a run at threshold {THRESHOLD}"), async {
        let run = NewRun {
            threshold: THRESHOLD,
            name: Some("veil selftest".to_string()),
            notes: None,
        };
        Ok(entity.create_run(project, token, &run).await?)
    })
    .await?;
    step("wait for the run to complete", async {
        let waiting = entity.wait_for_run(
            project,
            &run.run_id,
            token,
            Duration::from_millis(200),
            |_| {},
        );
        let status = tokio::time::timeout(Duration::from_secs(timeout), waiting)
            .await
            .with_context(|| format!("the run did not finish within {timeout} s"))??;
        if status.state != RunState::Completed {
            bail!(
                "the run ended {}: {}",
                status.state,
                status.message.unwrap_or_default()
            );
        }
        Ok(())
    })
    .await?;
    step("check the groups against the matching engine", async {
        let RunResult::Groups { groups } = entity.run_result(project, &run.run_id, token).await?
        else {
            bail!("the result holds no groups");
        };
        let served: BTreeSet<Group> = groups
            .into_iter()
            .map(|group| {
                let mut records: Group = group.into_iter().map(|[p, r]| (p, r)).collect();
                records.sort_unstable();
                records
            })
            .collect();
        let (a, b) = (clks[0].clone(), clks[1].clone());
        let expected = tokio::task::spawn_blocking(move || engine_groups(&a, &b)).await??;
        if expected.is_empty() {
            bail!("the generated records produced no groups; nothing was checked");
        }
        if served != expected {
            bail!(
                "the server returned {} groups, the engine finds {} ({} in common)",
                served.len(),
                expected.len(),
                served.intersection(&expected).count()
            );
        }
        Ok(served.len())
    })
    .await
}

/// The groups the matching engine finds on the same CLK JSON documents, in this process.
fn engine_groups(a: &[u8], b: &[u8]) -> anyhow::Result<BTreeSet<Group>> {
    let a = ClkSet::from_clk_json(a, None).context("read party 0's CLKs")?;
    let b = ClkSet::from_clk_json(b, None).context("read party 1's CLKs")?;
    let candidates = find_candidate_pairs(&[&a, &b], THRESHOLD, None, 1)?;
    Ok(greedy_solve(&candidates).into_iter().collect())
}

async fn delete(entity: &EntityClient, credentials: &ProjectCredentials) -> anyhow::Result<()> {
    let (project, token) = (&credentials.project_id, &credentials.result_token);
    entity.delete_project(project, token).await?;
    if entity.project(project, token).await.is_ok() {
        bail!("the project is still there after deletion");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_generated_parties_link_into_groups() {
        let generated = generate_data(200, 11).await.unwrap();
        let schema = demo_schema();
        let a = encode(&generated.a, &schema).unwrap();
        let b = encode(&generated.b, &schema).unwrap();
        let groups = engine_groups(&a, &b).unwrap();
        assert!(groups.len() > 100, "{} groups", groups.len());
        assert!(groups.iter().all(|group| group.len() == 2));
    }
}
