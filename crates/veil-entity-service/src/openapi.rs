//! The compatibility API's OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! attributes and the schemas in [`schemas`], and served at `GET /openapi.json`.
//!
//! What lives here: the parameters and error answers the handlers share (as reusable components),
//! the document's assembly ([`ApiDoc`]) and its handler. A handler's attribute lists exactly the
//! statuses that handler answers with, plus the two the server's limits add in front of every route
//! when Veil serves the API (`server.max_body_mib`: 413 on routes that read a body;
//! `server.rate_limit_per_second`: 503 with `Retry-After`).

pub mod schemas;

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoParams, OpenApi, ToResponse};

pub use schemas::*;

use crate::{EntityError, EntityResult};

/// The `project_id` path parameter.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProjectPath {
    /// The project's id.
    pub project_id: String,
}

/// The `project_id` and `run_id` path parameters.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RunPath {
    /// The project's id.
    pub project_id: String,
    /// The run's id.
    pub run_id: String,
}

/// Declares a struct describing the `Authorization` header — the token sent bare, with no scheme —
/// as one operation kind requires it.
macro_rules! token_header {
    ($(#[$meta:meta])* $name:ident, $description:literal) => {
        $(#[$meta])*
        #[derive(IntoParams)]
        #[into_params(parameter_in = Header)]
        pub struct $name {
            #[doc = $description]
            #[param(rename = "Authorization")]
            pub authorization: String,
        }
    };
}

token_header!(
    /// `Authorization`: the project's result token.
    ResultToken,
    "The project's result token, sent bare (no `Bearer`)."
);
token_header!(
    /// `Authorization`: one of the project's update tokens.
    UpdateToken,
    "One of the project's update tokens (one per party), sent bare (no `Bearer`)."
);
token_header!(
    /// `Authorization` on `GET /projects/{project_id}`.
    DescribeToken,
    "The project's result token, sent bare (no `Bearer`); for a `permutations` project one of its \
     update tokens also serves."
);
token_header!(
    /// `Authorization` on the result endpoint.
    ResultOrReceiptToken,
    "The project's result token, sent bare (no `Bearer`); for a `permutations` project a party's \
     receipt token also serves, and fetches that party's permutation instead of the mask."
);

/// A problem-JSON response with `description`.
fn problem(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/problem+json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    )
}

/// Declares a unit struct per shared problem answer, each a named response component.
macro_rules! problem_responses {
    ($($(#[$meta:meta])* $name:ident => $description:literal;)+) => {
        $(
            $(#[$meta])*
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                    (stringify!($name), problem($description).build().into())
                }
            }
        )+
    };
}

problem_responses! {
    /// 400 (problem JSON).
    BadRequest => "The request is malformed or invalid; `detail` names the field or header at fault.";
    /// 403 (problem JSON).
    Forbidden => "The project or run does not exist, or the token is missing, wrong or not valid for \
        this operation (the answers do not tell these apart); for uploads, also a party that has \
        uploaded already.";
    /// 404 (problem JSON) on the result endpoint.
    ResultNotFound => "The run has not completed yet.";
    /// 413 (problem JSON).
    PayloadTooLarge => "The body is larger than the server's limit (`server.max_body_mib`).";
    /// 500 (problem JSON) when stored data cannot be read back.
    InternalError => "Stored data could not be read back, or an internal step failed; `detail` says which.";
    /// 500 (problem JSON) on the result endpoint.
    RunFailedError => "The run ended in error, so it has no result (yet, or stored data could not be \
        read back); `detail` carries the run's message.";
    /// 500 (problem JSON) on a disabled feature.
    FeatureDisabled => "The feature is disabled (problem title `Feature Disabled`).";
}

/// 503 (problem JSON): rate limited, or a backing store is unavailable.
pub struct Unavailable;

impl<'r> ToResponse<'r> for Unavailable {
    fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
        let seconds = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .build();
        let retry_after = HeaderBuilder::new()
            .schema(seconds)
            .description(Some(
                "Seconds to wait; sent when the client is rate limited.",
            ))
            .build();
        let response = problem(
            "The client is over its request rate (`server.rate_limit_per_second`; retry after \
             `Retry-After` seconds), or the metadata database, blob store or job service is \
             unavailable. Retry later.",
        )
        .header("Retry-After", retry_after);
        ("Unavailable", response.build().into())
    }
}

/// The compatibility API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Veil — Anonlink Entity Service compatible API",
        version = env!("CARGO_PKG_VERSION"),
        description = "The Anonlink Entity Service REST API v1 as Veil serves it: projects, encoding \
            uploads and linkage runs. Tokens are sent bare in the `Authorization` header. Errors are \
            `application/problem+json`."
    ),
    servers((url = "/api/v1", description = "This server")),
    tags(
        (name = "General", description = "Service status, version and this document."),
        (name = "Project", description = "Projects and their encoding uploads."),
        (name = "Run", description = "Linkage runs and their results."),
    ),
    paths(
        crate::general::status,
        crate::general::version,
        serve,
        crate::projects::list,
        crate::projects::create,
        crate::projects::describe,
        crate::projects::delete,
        crate::uploads::upload_json,
        crate::binary::upload,
        crate::projects::authorize_external_upload,
        crate::runs::handlers::list,
        crate::runs::handlers::create,
        crate::runs::handlers::describe,
        crate::runs::handlers::delete,
        crate::runs::handlers::status,
        crate::runs::handlers::result,
    ),
    components(
        schemas(Problem, CLKUpload, CLKnBlockUpload, EncodingUpload, BlockId, RunStage, RunProgress),
        responses(
            BadRequest,
            Forbidden,
            ResultNotFound,
            PayloadTooLarge,
            InternalError,
            RunFailedError,
            FeatureDisabled,
            Unavailable,
        ),
    )
)]
pub struct ApiDoc;

/// The document, built once.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// The compatibility API's OpenAPI document.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    &DOCUMENT
}

/// `GET /openapi.json`: this API's OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_document",
    tag = "General",
    summary = "This API's OpenAPI document",
    responses(
        (status = 200, description = "The OpenAPI document.", content_type = "application/json", body = Object),
        (status = 503, response = Unavailable),
    )
)]
pub async fn serve() -> EntityResult<Response> {
    let json = serde_json::to_vec(document()).map_err(|err| {
        EntityError::Corrupt(format!("cannot serialise the OpenAPI document: {err}"))
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_hold_every_schema_and_response() {
        let document = serde_json::to_value(document()).unwrap();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for name in [
            "NewProject",
            "NewProjectResponse",
            "ProjectDescription",
            "ProjectList",
            "CLKUpload",
            "CLKnBlockUpload",
            "EncodingUpload",
            "UploadReceipt",
            "NewRun",
            "RunDescription",
            "RunList",
            "RunStatus",
            "RunStage",
            "RunProgress",
            "RunState",
            "ResultType",
            "GroupsResult",
            "GroupsWithScoresResult",
            "MaskResult",
            "PermutationResult",
            "SimilarityScoresResult",
            "RunResult",
            "Problem",
        ] {
            assert!(
                schemas.contains_key(name),
                "components.schemas lacks {name}"
            );
        }
        let responses = document["components"]["responses"].as_object().unwrap();
        for name in ["BadRequest", "Forbidden", "Unavailable", "PayloadTooLarge"] {
            assert!(
                responses.contains_key(name),
                "components.responses lacks {name}"
            );
        }
    }

    #[test]
    fn info_and_server_name_veil_and_the_mount_point() {
        let document = serde_json::to_value(document()).unwrap();
        assert_eq!(
            document["info"]["title"],
            "Veil — Anonlink Entity Service compatible API"
        );
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(document["servers"][0]["url"], "/api/v1");
    }

    #[test]
    fn operation_ids_are_unique() {
        let document = serde_json::to_value(document()).unwrap();
        let mut ids = std::collections::BTreeSet::new();
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                let id = operation["operationId"].as_str().unwrap().to_string();
                assert!(ids.insert(id.clone()), "operationId {id} is used twice");
            }
        }
    }
}
