//! Encoding uploads: `POST /projects/{id}/clks` (JSON, parsed as it streams in) and the steps every
//! upload shares — authorise the party, claim its upload slot, check the encoding size, record the
//! upload or undo it. An upload is all or nothing: a refused or failed upload leaves no blob and no
//! row, and the party may upload again.

use std::io;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::projects::{blob_prefix, load, token, ALREADY_UPLOADED};
use crate::store::{party_state, PartyRecord, ProjectRecord, UploadRecord};
use crate::upload::{self, ParsedUpload, UploadError};
use crate::{tokens, EntityError, EntityResult, EntityState, MAX_ENCODING_BYTES};

/// Decoded encodings are handed to the blob store in pieces of about this many bytes.
const PIECE_BYTES: usize = 1 << 20;

/// `POST /projects/{id}/clks` (update token): parses the body as it arrives on a blocking thread,
/// streaming the decoded encodings to the blob store, and answers 201 with a receipt token — or 400
/// naming the problem, with nothing kept.
#[utoipa::path(
    post,
    path = "/projects/{project_id}/clks",
    operation_id = "upload_encodings",
    tag = "Project",
    summary = "Upload a party's encodings (JSON)",
    description = "One upload per party. The body holds exactly one of `clks`, `clknblocks` (projects \
        that use blocking) or `encodings` (with `blocks` exactly when the project uses blocking); all \
        encodings have the length of every other party's. A refused upload keeps nothing and may be \
        retried. The last party's upload queues the project's runs.",
    params(crate::openapi::ProjectPath, crate::openapi::UpdateToken),
    request_body(content = crate::openapi::UploadBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The encodings were stored.", body = crate::openapi::UploadReceipt),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 500, response = crate::openapi::InternalError),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn upload_json(
    State(state): State<EntityState>,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> EntityResult<Response> {
    let (project, party) = uploading_party(&state, &project_id, &headers).await?;
    let mut record = claim_upload(&state, &project_id, &party, project.uses_blocking).await?;
    let stored = async {
        let parsed =
            stream_json(&state, &record.encodings_key, body, project.uses_blocking).await?;
        check_encoding_size(&state, &project_id, parsed.size).await?;
        record.encoding_count = i64::try_from(parsed.count).unwrap_or(i64::MAX);
        record.encoding_size = i64::try_from(parsed.size).unwrap_or(i64::MAX);
        record.block_count = i64::try_from(parsed.block_count).unwrap_or(i64::MAX);
        if let (Some(key), Some(blocks)) = (&record.blocks_key, &parsed.blocks) {
            let json = serde_json::to_vec(blocks)
                .map_err(|err| EntityError::Corrupt(format!("cannot serialise blocks: {err}")))?;
            state.blobs.put(key, Bytes::from(json)).await?;
        }
        Ok(())
    }
    .await;
    finish_upload(&state, record, stored).await
}

/// Parses a JSON upload from `body` into the blob at `key`; the blob exists only if the upload is
/// valid and complete.
async fn stream_json(
    state: &EntityState,
    key: &str,
    body: Body,
    uses_blocking: bool,
) -> EntityResult<ParsedUpload> {
    let (sender, mut receiver) = mpsc::channel::<io::Result<Bytes>>(4);
    let reader = SyncIoBridge::new(StreamReader::new(
        body.into_data_stream().map_err(io::Error::other),
    ));
    let parser = tokio::task::spawn_blocking(move || {
        let mut sink = PieceWriter::new(sender);
        let result = upload::parse_into(reader, uses_blocking, &mut sink);
        match &result {
            Ok(_) => sink.finish().map_err(UploadError::Io)?,
            Err(err) => sink.abort(err),
        }
        result
    });
    let source = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)).boxed();
    let stored = state.blobs.put_stream(key, source).await;
    let parsed = parser
        .await
        .map_err(|err| EntityError::Corrupt(format!("upload parser failed: {err}")))?;
    match (parsed, stored) {
        (_, Err(err)) if !matches!(err, veil_blob::BlobError::Source { .. }) => Err(err.into()),
        (Err(err), _) => Err(refusal(err)),
        (Ok(_), Err(err)) => Err(err.into()),
        (Ok(parsed), Ok(_)) => Ok(parsed),
    }
}

/// The answer to an upload body that could not be used.
fn refusal(err: UploadError) -> EntityError {
    match err {
        UploadError::Invalid(message) => EntityError::bad_request(message),
        UploadError::Io(err) => unreadable_body(&err),
    }
}

/// The answer to an upload body that failed while it was read: 413 when the server's body limit cut
/// it off, 400 otherwise.
pub(crate) fn unreadable_body(err: &io::Error) -> EntityError {
    if is_length_limit(err) {
        EntityError::PayloadTooLarge(
            "the upload is larger than this server's body limit (server.max_body_mib)".into(),
        )
    } else {
        EntityError::bad_request(format!("the upload body could not be read: {err}"))
    }
}

/// Whether the body was cut off by the server's body-size limit.
fn is_length_limit(err: &io::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = err
        .get_ref()
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}

/// A `Write` that hands pieces to an async consumer; errors once the consumer has gone.
struct PieceWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    piece: Vec<u8>,
}

impl PieceWriter {
    fn new(sender: mpsc::Sender<io::Result<Bytes>>) -> Self {
        Self {
            sender,
            piece: Vec::with_capacity(PIECE_BYTES),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let piece = Bytes::from(std::mem::replace(
            &mut self.piece,
            Vec::with_capacity(PIECE_BYTES),
        ));
        self.sender
            .blocking_send(Ok(piece))
            .map_err(|_| io::Error::other("the blob store stopped accepting the upload"))
    }

    /// Sends what is left; the consumer's stream then ends.
    fn finish(mut self) -> io::Result<()> {
        if self.piece.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }

    /// Makes the consumer's stream fail, so that nothing is stored.
    fn abort(self, err: &UploadError) {
        let _ = self
            .sender
            .blocking_send(Err(io::Error::other(err.to_string())));
    }
}

impl io::Write for PieceWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.piece.extend_from_slice(buf);
        if self.piece.len() >= PIECE_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Authorises an upload: the project exists, the token is one of its update tokens, and that party
/// has not uploaded (and is not uploading).
pub(crate) async fn uploading_party(
    state: &EntityState,
    project_id: &str,
    headers: &HeaderMap,
) -> EntityResult<(ProjectRecord, PartyRecord)> {
    let (project, parties) = load(state, project_id).await?;
    let token = token(headers)?;
    let party = tokens::position(token, parties.iter().map(|p| p.update_token.as_str()))
        .and_then(|index| parties.get(index))
        .cloned()
        .ok_or_else(EntityError::invalid_access)?;
    if party.state == party_state::DONE || party.state == party_state::UPLOADING {
        return Err(EntityError::Forbidden(ALREADY_UPLOADED.to_string()));
    }
    Ok((project, party))
}

/// Checks an encoding size against the server's bound and the other parties' uploads.
pub(crate) async fn check_encoding_size(
    state: &EntityState,
    project_id: &str,
    size: usize,
) -> EntityResult<()> {
    if size > MAX_ENCODING_BYTES {
        return Err(EntityError::bad_request(format!(
            "encodings are {size} bytes; this server accepts at most {MAX_ENCODING_BYTES} bytes per encoding"
        )));
    }
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let sizes = state.store.encoding_sizes(project_id).await?;
    if let Some(other) = sizes.into_iter().find(|other| *other != size) {
        return Err(EntityError::bad_request(format!(
            "encodings are {size} bytes but other parties uploaded {other}-byte encodings"
        )));
    }
    Ok(())
}

/// Marks the party `uploading` and returns its upload's record: blob keys under a fresh receipt
/// token, counts still zero.
pub(crate) async fn claim_upload(
    state: &EntityState,
    project_id: &str,
    party: &PartyRecord,
    has_blocks: bool,
) -> EntityResult<UploadRecord> {
    if !state
        .store
        .begin_upload(project_id, party.party_index)
        .await?
    {
        return Err(EntityError::Forbidden(ALREADY_UPLOADED.to_string()));
    }
    let receipt_token = tokens::generate();
    let prefix = format!(
        "{}/parties/{}/{receipt_token}",
        blob_prefix(project_id),
        party.party_index
    );
    Ok(UploadRecord {
        receipt_token,
        project_id: project_id.to_string(),
        party_index: party.party_index,
        encoding_count: 0,
        encoding_size: 0,
        block_count: 1,
        encodings_key: format!("{prefix}/encodings.bin"),
        blocks_key: has_blocks.then(|| format!("{prefix}/blocks.json")),
    })
}

/// Ends a claimed upload: on success records it (the party is `done`), answers 201 and submits the
/// project's runs if this was the last party; on failure marks the party `error` (it may retry) and
/// removes whatever was stored.
pub(crate) async fn finish_upload(
    state: &EntityState,
    record: UploadRecord,
    stored: EntityResult<()>,
) -> EntityResult<Response> {
    let stored = match stored {
        Ok(()) => state.store.finish_upload(&record).await,
        Err(err) => Err(err),
    };
    if let Err(err) = stored {
        if let Err(fail) = state
            .store
            .fail_upload(&record.project_id, record.party_index)
            .await
        {
            tracing::error!(error = %fail, project = %record.project_id, "cannot mark a failed upload");
        }
        for key in std::iter::once(&record.encodings_key).chain(record.blocks_key.as_ref()) {
            let _ = state.blobs.delete(key).await;
        }
        return Err(err);
    }
    tracing::info!(project = %record.project_id, party = record.party_index, count = record.encoding_count,
        size = record.encoding_size, "entity service encodings uploaded");
    if let Err(err) = crate::runs::submit::submit_ready_runs(state, &record.project_id).await {
        tracing::warn!(error = %err, project = %record.project_id, "runs not submitted yet; retried on the next status request");
    }
    let body = json!({"message": "Updated", "receipt_token": record.receipt_token});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
