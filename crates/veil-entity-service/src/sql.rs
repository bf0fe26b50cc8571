//! [`SqlProjectStore`]: [`ProjectStore`] on the metadata database, one implementation for SQLite and
//! PostgreSQL (statements written once with `$n` parameters, compiled per dialect by `with_pool!`).

use async_trait::async_trait;
use veil_domain::Timestamp;
use veil_metadata::{with_pool, Database, DbTimestamp};

use crate::store::{party_state, PartyRecord, ProjectRecord, ProjectStore, UploadRecord};
use crate::EntityResult;

/// A project row: every column of `es_projects`.
type ProjectRow = (
    String,
    String,
    String,
    String,
    i64,
    bool,
    String,
    String,
    DbTimestamp,
);

/// [`ProjectStore`] on the tables of migration `0002_entity_service`.
#[derive(Debug, Clone)]
pub struct SqlProjectStore {
    database: Database,
}

impl SqlProjectStore {
    /// The store on `database`, whose migrations must have been applied.
    pub fn new(database: Database) -> Self {
        Self { database }
    }

    pub(crate) fn database(&self) -> &Database {
        &self.database
    }
}

fn project_from_row(row: ProjectRow) -> ProjectRecord {
    let (
        project_id,
        name,
        notes,
        result_type,
        number_parties,
        uses_blocking,
        schema_json,
        result_token,
        time_added,
    ) = row;
    ProjectRecord {
        project_id,
        name,
        notes,
        result_type,
        number_parties,
        uses_blocking,
        schema_json,
        result_token,
        time_added: time_added.0,
    }
}

#[async_trait]
impl ProjectStore for SqlProjectStore {
    async fn create_project(
        &self,
        project: &ProjectRecord,
        update_tokens: &[String],
    ) -> EntityResult<()> {
        let insert_project = "INSERT INTO es_projects (project_id, name, notes, result_type, \
            number_parties, uses_blocking, schema_json, result_token, time_added) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let insert_party = "INSERT INTO es_parties (project_id, party_index, update_token, state) \
            VALUES ($1, $2, $3, $4)";
        with_pool!(&self.database, pool => {
            // Dropping the transaction on an error rolls it back: no project without its parties.
            let mut tx = pool.begin().await?;
            sqlx::query(insert_project)
                .bind(&project.project_id)
                .bind(&project.name)
                .bind(&project.notes)
                .bind(&project.result_type)
                .bind(project.number_parties)
                .bind(project.uses_blocking)
                .bind(&project.schema_json)
                .bind(&project.result_token)
                .bind(DbTimestamp(project.time_added))
                .execute(&mut *tx)
                .await?;
            for (index, token) in update_tokens.iter().enumerate() {
                sqlx::query(insert_party)
                    .bind(&project.project_id)
                    .bind(index as i64)
                    .bind(token)
                    .bind(party_state::PENDING)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn list_projects(&self) -> EntityResult<Vec<(String, Timestamp)>> {
        let sql = "SELECT project_id, time_added FROM es_projects ORDER BY time_added, project_id";
        let rows: Vec<(String, DbTimestamp)> = with_pool!(&self.database, pool => {
            sqlx::query_as(sql).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(id, at)| (id, at.0)).collect())
    }

    async fn count_projects(&self) -> EntityResult<i64> {
        let count: i64 = with_pool!(&self.database, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM es_projects").fetch_one(pool).await?
        });
        Ok(count)
    }

    async fn get_project(
        &self,
        project_id: &str,
    ) -> EntityResult<Option<(ProjectRecord, Vec<PartyRecord>)>> {
        let project_sql = "SELECT project_id, name, notes, result_type, number_parties, \
            uses_blocking, schema_json, result_token, time_added FROM es_projects WHERE project_id = $1";
        let parties_sql = "SELECT party_index, update_token, state FROM es_parties \
            WHERE project_id = $1 ORDER BY party_index";
        let (row, parties): (Option<ProjectRow>, Vec<(i64, String, String)>) = with_pool!(&self.database, pool => {
            let row = sqlx::query_as(project_sql).bind(project_id).fetch_optional(pool).await?;
            let parties = sqlx::query_as(parties_sql).bind(project_id).fetch_all(pool).await?;
            (row, parties)
        });
        Ok(row.map(|row| {
            let parties = parties
                .into_iter()
                .map(|(party_index, update_token, state)| PartyRecord {
                    party_index,
                    update_token,
                    state,
                })
                .collect();
            (project_from_row(row), parties)
        }))
    }

    async fn encoding_sizes(&self, project_id: &str) -> EntityResult<Vec<i64>> {
        let sql = "SELECT encoding_size FROM es_uploads WHERE project_id = $1";
        let sizes: Vec<i64> = with_pool!(&self.database, pool => {
            sqlx::query_scalar(sql).bind(project_id).fetch_all(pool).await?
        });
        Ok(sizes)
    }

    async fn begin_upload(&self, project_id: &str, party_index: i64) -> EntityResult<bool> {
        let sql = "UPDATE es_parties SET state = $1 \
            WHERE project_id = $2 AND party_index = $3 AND state IN ($4, $5)";
        let rows_affected = with_pool!(&self.database, pool => {
            sqlx::query(sql)
                .bind(party_state::UPLOADING)
                .bind(project_id)
                .bind(party_index)
                .bind(party_state::PENDING)
                .bind(party_state::ERROR)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(rows_affected == 1)
    }

    async fn finish_upload(&self, upload: &UploadRecord) -> EntityResult<()> {
        let insert =
            "INSERT INTO es_uploads (receipt_token, project_id, party_index, encoding_count, \
            encoding_size, block_count, encodings_key, blocks_key, time_added) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let done = "UPDATE es_parties SET state = $1 WHERE project_id = $2 AND party_index = $3";
        with_pool!(&self.database, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(insert)
                .bind(&upload.receipt_token)
                .bind(&upload.project_id)
                .bind(upload.party_index)
                .bind(upload.encoding_count)
                .bind(upload.encoding_size)
                .bind(upload.block_count)
                .bind(&upload.encodings_key)
                .bind(upload.blocks_key.as_deref())
                .bind(DbTimestamp(veil_domain::now()))
                .execute(&mut *tx)
                .await?;
            sqlx::query(done)
                .bind(party_state::DONE)
                .bind(&upload.project_id)
                .bind(upload.party_index)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    async fn reset_interrupted_uploads(&self) -> EntityResult<u64> {
        let sql = "UPDATE es_parties SET state = $1 WHERE state = $2";
        let reset = with_pool!(&self.database, pool => {
            sqlx::query(sql)
                .bind(party_state::ERROR)
                .bind(party_state::UPLOADING)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(reset)
    }

    async fn fail_upload(&self, project_id: &str, party_index: i64) -> EntityResult<()> {
        let sql = "UPDATE es_parties SET state = $1 \
            WHERE project_id = $2 AND party_index = $3 AND state = $4";
        with_pool!(&self.database, pool => {
            sqlx::query(sql)
                .bind(party_state::ERROR)
                .bind(project_id)
                .bind(party_index)
                .bind(party_state::UPLOADING)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn delete_project(&self, project_id: &str) -> EntityResult<Option<Vec<String>>> {
        let keys_sql = "SELECT encodings_key, blocks_key FROM es_uploads WHERE project_id = $1";
        let deleted = with_pool!(&self.database, pool => {
            let mut tx = pool.begin().await?;
            // Children first, so the delete does not rely on the dialect's foreign-key settings.
            // A write comes first: on SQLite a transaction that reads and then writes fails at once
            // (SQLITE_BUSY, no busy timeout) when another connection wrote in between.
            sqlx::query("DELETE FROM es_runs WHERE project_id = $1")
                .bind(project_id)
                .execute(&mut *tx)
                .await?;
            let keys: Vec<(String, Option<String>)> =
                sqlx::query_as(keys_sql).bind(project_id).fetch_all(&mut *tx).await?;
            sqlx::query("DELETE FROM es_uploads WHERE project_id = $1")
                .bind(project_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM es_parties WHERE project_id = $1")
                .bind(project_id)
                .execute(&mut *tx)
                .await?;
            let removed = sqlx::query("DELETE FROM es_projects WHERE project_id = $1")
                .bind(project_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            (removed == 1).then(|| {
                keys.into_iter()
                    .flat_map(|(encodings, blocks)| std::iter::once(encodings).chain(blocks))
                    .collect()
            })
        });
        Ok(deleted)
    }
}
