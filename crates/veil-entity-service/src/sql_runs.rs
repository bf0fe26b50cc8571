//! [`RunStore`] for [`SqlProjectStore`], on the `es_runs` table of migration `0003_entity_runs`.

use async_trait::async_trait;
use veil_metadata::{with_pool, DbTimestamp};

use crate::run_store::{run_state, RunRecord, RunStore};
use crate::{EntityResult, SqlProjectStore, UploadRecord};

const RUN_COLUMNS: &str = "run_id, project_id, name, notes, threshold, state, job_id, message, \
    total_comparisons, stage_seen, progress_seen, time_added";

type RunRow = (
    String,
    String,
    String,
    String,
    f64,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    DbTimestamp,
);

fn run_from_row(row: RunRow) -> RunRecord {
    let (
        run_id,
        project_id,
        name,
        notes,
        threshold,
        state,
        job_id,
        message,
        total_comparisons,
        stage_seen,
        progress_seen,
        time_added,
    ) = row;
    RunRecord {
        run_id,
        project_id,
        name,
        notes,
        threshold,
        state,
        job_id,
        message,
        total_comparisons,
        stage_seen,
        progress_seen,
        time_added: time_added.0,
    }
}

type UploadRow = (String, String, i64, i64, i64, i64, String, Option<String>);

#[async_trait]
impl RunStore for SqlProjectStore {
    async fn create_run(&self, run: &RunRecord) -> EntityResult<()> {
        let sql = format!(
            "INSERT INTO es_runs ({RUN_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        with_pool!(self.database(), pool => {
            sqlx::query(&sql)
                .bind(&run.run_id)
                .bind(&run.project_id)
                .bind(&run.name)
                .bind(&run.notes)
                .bind(run.threshold)
                .bind(&run.state)
                .bind(run.job_id.as_deref())
                .bind(run.message.as_deref())
                .bind(run.total_comparisons)
                .bind(run.stage_seen)
                .bind(run.progress_seen)
                .bind(DbTimestamp(run.time_added))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn list_runs(&self, project_id: &str) -> EntityResult<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM es_runs WHERE project_id = $1 ORDER BY time_added, run_id"
        );
        let rows: Vec<RunRow> = with_pool!(self.database(), pool => {
            sqlx::query_as(&sql).bind(project_id).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(run_from_row).collect())
    }

    async fn get_run(&self, project_id: &str, run_id: &str) -> EntityResult<Option<RunRecord>> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM es_runs WHERE project_id = $1 AND run_id = $2");
        let row: Option<RunRow> = with_pool!(self.database(), pool => {
            sqlx::query_as(&sql).bind(project_id).bind(run_id).fetch_optional(pool).await?
        });
        Ok(row.map(run_from_row))
    }

    async fn claim_run(&self, run_id: &str) -> EntityResult<bool> {
        let sql = "UPDATE es_runs SET state = $1 WHERE run_id = $2 AND state = $3";
        let claimed = with_pool!(self.database(), pool => {
            sqlx::query(sql)
                .bind(run_state::SUBMITTING)
                .bind(run_id)
                .bind(run_state::CREATED)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(claimed == 1)
    }

    async fn set_run_job(&self, run_id: &str, job_id: &str, comparisons: i64) -> EntityResult<()> {
        let sql = "UPDATE es_runs SET state = $1, job_id = $2, total_comparisons = $3, \
            stage_seen = 2, progress_seen = 0 WHERE run_id = $4 AND state = $5";
        with_pool!(self.database(), pool => {
            sqlx::query(sql)
                .bind(run_state::SUBMITTED)
                .bind(job_id)
                .bind(comparisons)
                .bind(run_id)
                .bind(run_state::SUBMITTING)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn release_run(&self, run_id: &str) -> EntityResult<()> {
        let sql = "UPDATE es_runs SET state = $1 WHERE run_id = $2 AND state = $3";
        with_pool!(self.database(), pool => {
            sqlx::query(sql)
                .bind(run_state::CREATED)
                .bind(run_id)
                .bind(run_state::SUBMITTING)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn fail_run(&self, run_id: &str, message: &str) -> EntityResult<()> {
        let sql =
            "UPDATE es_runs SET state = $1, message = $2 WHERE run_id = $3 AND job_id IS NULL";
        with_pool!(self.database(), pool => {
            sqlx::query(sql)
                .bind(run_state::ERROR)
                .bind(message)
                .bind(run_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn projects_with_unsubmitted_runs(&self) -> EntityResult<Vec<String>> {
        let reset = "UPDATE es_runs SET state = $1 WHERE state = $2";
        let select = "SELECT DISTINCT project_id FROM es_runs WHERE state = $1 ORDER BY project_id";
        let projects: Vec<String> = with_pool!(self.database(), pool => {
            sqlx::query(reset)
                .bind(run_state::CREATED)
                .bind(run_state::SUBMITTING)
                .execute(pool)
                .await?;
            sqlx::query_scalar(select).bind(run_state::CREATED).fetch_all(pool).await?
        });
        Ok(projects)
    }

    async fn raise_progress(
        &self,
        run_id: &str,
        stage: i64,
        progress: i64,
    ) -> EntityResult<(i64, i64)> {
        let raise = "UPDATE es_runs SET stage_seen = $1, progress_seen = $2 WHERE run_id = $3 \
            AND (stage_seen < $4 OR (stage_seen = $5 AND progress_seen < $6))";
        let read = "SELECT stage_seen, progress_seen FROM es_runs WHERE run_id = $1";
        let seen: Option<(i64, i64)> = with_pool!(self.database(), pool => {
            sqlx::query(raise)
                .bind(stage)
                .bind(progress)
                .bind(run_id)
                .bind(stage)
                .bind(stage)
                .bind(progress)
                .execute(pool)
                .await?;
            sqlx::query_as(read).bind(run_id).fetch_optional(pool).await?
        });
        Ok(seen.unwrap_or((stage, progress)))
    }

    async fn delete_run(&self, project_id: &str, run_id: &str) -> EntityResult<Option<RunRecord>> {
        let Some(run) = self.get_run(project_id, run_id).await? else {
            return Ok(None);
        };
        let sql = "DELETE FROM es_runs WHERE project_id = $1 AND run_id = $2";
        let removed = with_pool!(self.database(), pool => {
            sqlx::query(sql).bind(project_id).bind(run_id).execute(pool).await?.rows_affected()
        });
        Ok((removed == 1).then_some(run))
    }

    async fn uploads(&self, project_id: &str) -> EntityResult<Vec<UploadRecord>> {
        let sql = "SELECT receipt_token, project_id, party_index, encoding_count, encoding_size, \
            block_count, encodings_key, blocks_key FROM es_uploads WHERE project_id = $1 \
            ORDER BY party_index";
        let rows: Vec<UploadRow> = with_pool!(self.database(), pool => {
            sqlx::query_as(sql).bind(project_id).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(receipt_token, project_id, party_index, count, size, blocks, key, blocks_key)| {
                    UploadRecord {
                        receipt_token,
                        project_id,
                        party_index,
                        encoding_count: count,
                        encoding_size: size,
                        block_count: blocks,
                        encodings_key: key,
                        blocks_key,
                    }
                },
            )
            .collect())
    }
}
