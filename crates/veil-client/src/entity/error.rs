//! [`EntityClientError`]: why a call to an Entity Service failed, with the server's problem detail.

use reqwest::StatusCode;

/// Why an Entity Service call failed.
#[derive(Debug, thiserror::Error)]
pub enum EntityClientError {
    /// The server URL is not usable.
    #[error("invalid Entity Service URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach the Entity Service at {}", origin(.url))]
    Unreachable {
        /// The URL called.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// A token holds characters an HTTP header cannot carry.
    #[error("the token holds characters that cannot be sent in an HTTP header")]
    InvalidToken,
    /// An upload's body could not be read.
    #[error("cannot read the upload body{}", .path.as_ref().map(|p| format!(" from {}", p.display())).unwrap_or_default())]
    Body {
        /// The file read, if the body is one.
        path: Option<std::path::PathBuf>,
        /// The read error.
        source: std::io::Error,
    },
    /// The server answered with an error: its problem document's detail.
    #[error("{detail} ({status}{})", if .attempts > &1 { format!(", after {attempts} attempts") } else { String::new() })]
    Api {
        /// The status code.
        status: StatusCode,
        /// The problem's title (the status's reason when there is none).
        title: String,
        /// The problem's detail (the body's text when it is not a problem document).
        detail: String,
        /// Attempts made (more than one when the server kept answering 503).
        attempts: u32,
    },
    /// The server's answer could not be decoded.
    #[error("unexpected answer from {url}: {reason}")]
    Decode {
        /// The URL called.
        url: String,
        /// What could not be decoded.
        reason: String,
    },
}

impl EntityClientError {
    /// The HTTP status of an [`EntityClientError::Api`] error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            EntityClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Result of the Entity Service client's calls.
pub type EntityResult<T> = Result<T, EntityClientError>;

/// `scheme://host:port` of `url` (the transport error names the whole URL).
fn origin(url: &str) -> String {
    url::Url::parse(url).map_or_else(
        |_| url.to_string(),
        |url| url.origin().ascii_serialization(),
    )
}

/// An error answer as [`EntityClientError::Api`], with the problem document's title and detail.
pub(super) fn problem(status: StatusCode, body: &[u8], attempts: u32) -> EntityClientError {
    let document = serde_json::from_slice::<serde_json::Value>(body).ok();
    let field = |name: &str| {
        document
            .as_ref()
            .and_then(|doc| doc.get(name))
            .and_then(|value| value.as_str())
            .map(str::to_string)
    };
    let reason = status.canonical_reason().unwrap_or("error").to_string();
    let detail = field("detail")
        .or_else(|| field("message"))
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body).trim().to_string();
            if text.is_empty() {
                reason.clone()
            } else {
                text
            }
        });
    EntityClientError::Api {
        status,
        title: field("title").unwrap_or(reason),
        detail,
        attempts,
    }
}
