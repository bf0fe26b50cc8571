//! `POST /projects/{id}/binaryclks`: encodings as raw bytes (`Hash-Count` encodings of `Hash-Size`
//! bytes each, concatenated), streamed straight to the blob store — the body is never held whole in
//! memory. The stored blob is in the same format, so nothing needs decoding; a body whose length
//! does not match the headers is refused and nothing is kept.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::StreamExt;

use crate::uploads::{
    check_encoding_size, claim_upload, finish_upload, unreadable_body, uploading_party,
};
use crate::{EntityError, EntityResult, EntityState};

fn bad(detail: impl Into<String>) -> EntityError {
    EntityError::bad_request(detail)
}

/// A required positive integer header.
fn count_header(headers: &HeaderMap, name: &str) -> EntityResult<u64> {
    let value = headers
        .get(name)
        .ok_or_else(|| bad(format!("missing required header '{name}'")))?;
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| bad(format!("header '{name}' must be a positive integer")))
}

/// The handler.
#[utoipa::path(
    post,
    path = "/projects/{project_id}/binaryclks",
    operation_id = "upload_binary_encodings",
    tag = "Project",
    summary = "Upload a party's encodings (binary)",
    description = "As `/clks`, for projects that do not use blocking: the body is exactly \
        `Hash-Count` × `Hash-Size` bytes, streamed to storage as it arrives.",
    params(
        crate::openapi::ProjectPath,
        crate::openapi::UpdateToken,
        ("Hash-Count" = u64, Header, minimum = 1, description = "How many encodings the body holds."),
        ("Hash-Size" = u64, Header, minimum = 1, description = "Bytes per encoding."),
    ),
    request_body(
        content = crate::openapi::BinaryEncodings,
        content_type = "application/octet-stream",
        description = "`Hash-Count` encodings of `Hash-Size` bytes each, concatenated, nothing else. \
            Not for projects that use blocking."
    ),
    responses(
        (status = 201, description = "The encodings were stored.", body = crate::openapi::UploadReceipt),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
pub async fn upload(
    State(state): State<EntityState>,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> EntityResult<Response> {
    let (project, party) = uploading_party(&state, &project_id, &headers).await?;
    if project.uses_blocking {
        return Err(bad(
            "this project uses blocking, and binary uploads carry no blocks: upload 'clknblocks' \
             or 'encodings' with 'blocks' to /clks",
        ));
    }
    let count = count_header(&headers, "Hash-Count")?;
    let size = count_header(&headers, "Hash-Size")?;
    let expected = count
        .checked_mul(size)
        .ok_or_else(|| bad("Hash-Count × Hash-Size is too large"))?;
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if let Some(length) = announced.filter(|length| *length != expected) {
        return Err(bad(format!(
            "the body is {length} bytes but Hash-Count {count} × Hash-Size {size} is {expected} bytes"
        )));
    }
    let size_bytes = usize::try_from(size).unwrap_or(usize::MAX);
    check_encoding_size(&state, &project_id, size_bytes).await?;
    let mut record = claim_upload(&state, &project_id, &party, false).await?;
    record.encoding_count = i64::try_from(count).unwrap_or(i64::MAX);
    record.encoding_size = i64::try_from(size).unwrap_or(i64::MAX);
    let mut received = 0u64;
    let checked = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        received += chunk.len() as u64;
        if received > expected {
            return Err(std::io::Error::other(format!(
                "the body is longer than Hash-Count {count} × Hash-Size {size} = {expected} bytes"
            )));
        }
        Ok(chunk)
    });
    let stored = match state
        .blobs
        .put_stream(&record.encodings_key, checked.boxed())
        .await
    {
        Ok(written) if written == expected => Ok(()),
        Ok(written) => {
            let _ = state.blobs.delete(&record.encodings_key).await;
            Err(bad(format!(
                "the body is {written} bytes but Hash-Count {count} × Hash-Size {size} is {expected} bytes"
            )))
        }
        Err(veil_blob::BlobError::Source { source, .. }) => Err(unreadable_body(&source)),
        Err(err) => Err(err.into()),
    };
    finish_upload(&state, record, stored).await
}
