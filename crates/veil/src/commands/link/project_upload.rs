//! `veil link project upload`: one party's encodings to an Entity Service project.
//!
//! The file is checked locally first (a malformed file is a usage error naming it, before anything
//! is sent). JSON files the service accepts as they are, are streamed from disk unchanged; other
//! uploads are produced chunk by chunk while they are sent, never as one string.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use veil_client::entity::{Bytes, ProgressFn, UploadBody, UploadReceipt};
use veil_client::EntityClient;
use veil_linkage_encoding::Clk;
use veil_linkage_matching::{read_clk_document, ClkDocument, ClkSet};

use super::files::{bad_input, open_input};
use super::project::{entity_client, print_out, ProjectRef, Role, ServiceArgs, Target};
use super::usage;

/// `clks` JSON files larger than this go as binary under `--upload-as auto` (a quarter smaller,
/// and nothing for the server to decode).
pub const LARGE_JSON_BYTES: u64 = 64 * 1024 * 1024;

/// Encodings per generated chunk.
const CHUNK_ENCODINGS: usize = 4096;

/// How the encodings are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UploadAs {
    /// Binary for binary files and for `clks` JSON over 64 MiB; JSON otherwise.
    Auto,
    /// `POST …/clks` with a JSON document.
    Json,
    /// `POST …/binaryclks` with the raw encodings (no blocks).
    Binary,
}

/// Arguments of `veil link project upload`.
#[derive(Debug, Args)]
#[command(after_help = "\
ENCODINGS is a file written by `veil link encode` (clkhash's `{\"clks\": [...]}` JSON, or \
--format binary), or by `veil link block` (`{\"clknblocks\": [...]}`, for projects created with \
--blocking). A file whose first non-blank byte is `{` is read as JSON unless --binary is given.

A binary file holds the encodings' bytes concatenated; their size comes from --hash-size, or \
else from the project's schema (`clkConfig.l` / 8), which needs the result token (--project).

Prints the service's answer (with the receipt token) on stdout.")]
pub struct UploadArgs {
    #[command(flatten)]
    pub server: ServiceArgs,
    #[command(flatten)]
    pub project: ProjectRef,
    /// The uploading party (from 0): picks its update token from --project.
    #[arg(long, value_name = "N")]
    pub party: Option<usize>,
    /// The encodings file.
    #[arg(value_name = "ENCODINGS")]
    pub encodings: PathBuf,
    /// The file holds raw binary encodings, whatever its first byte.
    #[arg(long)]
    pub binary: bool,
    /// How to send the encodings.
    #[arg(long, value_enum, default_value = "auto")]
    pub upload_as: UploadAs,
    /// Bytes per encoding in a binary file.
    #[arg(long, value_name = "BYTES")]
    pub hash_size: Option<u64>,
}

/// What will be sent.
enum Upload {
    /// A JSON upload document.
    Json(UploadBody),
    /// `count` encodings of `size` bytes, concatenated.
    Binary {
        body: UploadBody,
        count: u64,
        size: u64,
    },
}

impl Upload {
    fn len(&self) -> u64 {
        match self {
            Upload::Json(body) | Upload::Binary { body, .. } => body.len(),
        }
    }
}

/// Runs `veil link project upload`.
pub async fn run(args: UploadArgs) -> anyhow::Result<()> {
    let role = match (args.party, &args.project.token) {
        (Some(party), _) => Role::Party(party),
        (None, Some(_)) => Role::Result,
        (None, None) => {
            return Err(usage(
                "--party N is needed with --project: it picks that party's update token",
            ))
        }
    };
    let target = args.project.resolve(role)?;
    let client = entity_client(&args.server)?;
    let is_binary = args.binary || !starts_like_json(&args.encodings)?;
    let (upload, count, description) = if is_binary {
        plan_binary(&args, &client, &target).await?
    } else {
        plan_json(&args).await?
    };
    let (bar, progress) = byte_progress("uploading", upload.len());
    let receipt = send(&client, &target, upload, progress).await;
    bar.finish_and_clear();
    let receipt = receipt.with_context(|| {
        format!(
            "upload {} to project {}",
            args.encodings.display(),
            target.project_id
        )
    })?;
    eprintln!(
        "uploaded {count} encodings from {} to project {} {description}",
        args.encodings.display(),
        target.project_id
    );
    print_out(serde_json::to_string_pretty(&receipt)?.as_bytes())
}

/// Sends `upload`, showing progress.
async fn send(
    client: &EntityClient,
    target: &Target,
    upload: Upload,
    progress: ProgressFn,
) -> Result<UploadReceipt, veil_client::EntityClientError> {
    match upload {
        Upload::Json(body) => {
            let body = body.with_progress(progress);
            client
                .upload_json(&target.project_id, &target.token, &body)
                .await
        }
        Upload::Binary { body, count, size } => {
            let body = body.with_progress(progress);
            client
                .upload_binary(&target.project_id, &target.token, count, size, &body)
                .await
        }
    }
}

/// Whether the file's first non-blank byte is `{`.
fn starts_like_json(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut head = Vec::with_capacity(256);
    open_input(path)?
        .take(256)
        .read_to_end(&mut head)
        .map_err(|err| bad_input(path, err))?;
    Ok(head
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|byte| *byte == b'{'))
}

/// Checks a JSON file and decides how to send it. Returns the upload, the encoding count and a
/// description of the way it goes.
async fn plan_json(args: &UploadArgs) -> anyhow::Result<(Upload, u64, String)> {
    let path = args.encodings.clone();
    let document = tokio::task::spawn_blocking(move || {
        let reader = std::io::BufReader::with_capacity(1 << 16, open_input(&path)?);
        read_clk_document(reader, None).map_err(|err| bad_input(&path, err))
    })
    .await??;
    let file_bytes = std::fs::metadata(&args.encodings)
        .map_err(|err| bad_input(&args.encodings, err))?
        .len();
    match document {
        ClkDocument::Blocked(clks, _) => {
            if args.upload_as == UploadAs::Binary {
                return Err(bad_input(
                    &args.encodings,
                    "holds clknblocks, and binary uploads carry no blocks: use --upload-as json",
                ));
            }
            let body = UploadBody::from_file(&args.encodings)
                .await
                .map_err(|err| bad_input(&args.encodings, err))?;
            Ok((
                Upload::Json(body),
                clks.len() as u64,
                "as clknblocks JSON".into(),
            ))
        }
        ClkDocument::Clks(clks) => {
            let binary = match args.upload_as {
                UploadAs::Binary => true,
                UploadAs::Json => false,
                UploadAs::Auto => file_bytes > LARGE_JSON_BYTES,
            };
            let count = clks.len() as u64;
            if binary {
                let size = clks.clk_bytes() as u64;
                let body = binary_from_clks(Arc::new(clks));
                let description = format!("as binary ({size} bytes each)");
                return Ok((Upload::Binary { body, count, size }, count, description));
            }
            drop(clks);
            let body = UploadBody::from_file(&args.encodings)
                .await
                .map_err(|err| bad_input(&args.encodings, err))?;
            Ok((Upload::Json(body), count, "as clks JSON".into()))
        }
    }
}

/// Checks a binary file's size against the encoding size and decides how to send it.
async fn plan_binary(
    args: &UploadArgs,
    client: &EntityClient,
    target: &Target,
) -> anyhow::Result<(Upload, u64, String)> {
    let path = &args.encodings;
    let size = match args.hash_size {
        Some(0) => return Err(usage("--hash-size must be at least 1")),
        Some(size) => size,
        None => schema_hash_size(client, target).await.map_err(|reason| {
            bad_input(
                path,
                format!(
                    "is binary, so the encoding size is needed: {reason}; pass --hash-size BYTES"
                ),
            )
        })?,
    };
    let body = UploadBody::from_file(path)
        .await
        .map_err(|err| bad_input(path, err))?;
    let length = body.len();
    if length == 0 || length % size != 0 {
        return Err(bad_input(
            path,
            format!(
                "is {length} bytes, not a positive multiple of the encoding size {size} \
                 (binary encodings are expected: is this an encodings file?)"
            ),
        ));
    }
    let count = length / size;
    match args.upload_as {
        UploadAs::Json => {
            let data = tokio::fs::read(path)
                .await
                .map_err(|err| bad_input(path, err))?;
            let body = json_from_binary(Bytes::from(data), size as usize);
            Ok((Upload::Json(body), count, "as clks JSON".into()))
        }
        UploadAs::Auto | UploadAs::Binary => Ok((
            Upload::Binary { body, count, size },
            count,
            format!("as binary ({size} bytes each)"),
        )),
    }
}

/// The encoding size from the project's schema (`clkConfig.l` bits), read with the result token.
async fn schema_hash_size(client: &EntityClient, target: &Target) -> Result<u64, String> {
    let token = target
        .credentials
        .as_ref()
        .map_or(target.token.as_str(), |c| c.result_token.as_str());
    let project = client
        .project(&target.project_id, token)
        .await
        .map_err(|err| format!("cannot read the project's schema: {err}"))?;
    let bits = project.schema["clkConfig"]["l"]
        .as_u64()
        .ok_or("the project's schema has no clkConfig.l")?;
    if bits == 0 || bits % 8 != 0 {
        return Err(format!(
            "the schema's clkConfig.l is {bits}, not a whole number of bytes"
        ));
    }
    Ok(bits / 8)
}

/// The raw bytes of CLKs `range` of `clks`, concatenated.
fn raw_clks(clks: &ClkSet, range: std::ops::Range<usize>) -> Bytes {
    let size = clks.clk_bytes();
    let mut out = Vec::with_capacity(range.len() * size);
    for index in range {
        let Some(words) = clks.get(index) else { break };
        let start = out.len();
        for word in words {
            out.extend_from_slice(&word.to_le_bytes());
        }
        // Words pad a CLK to a multiple of 8 bytes; the padding is not part of it.
        out.truncate(start + size);
    }
    Bytes::from(out)
}

/// A binary upload body made from decoded CLKs, a chunk at a time.
fn binary_from_clks(clks: Arc<ClkSet>) -> UploadBody {
    let length = (clks.len() * clks.clk_bytes()) as u64;
    UploadBody::from_chunks(length, move || binary_chunks(clks.clone()))
}

/// The raw bytes of all CLKs, [`CHUNK_ENCODINGS`] at a time.
fn binary_chunks(clks: Arc<ClkSet>) -> impl Iterator<Item = Bytes> + Send {
    (0..clks.len())
        .step_by(CHUNK_ENCODINGS)
        .map(move |start| raw_clks(&clks, start..(start + CHUNK_ENCODINGS).min(clks.len())))
}

/// A `{"clks": [...]}` body made from binary encodings of `size` bytes, a chunk at a time.
fn json_from_binary(data: Bytes, size: usize) -> UploadBody {
    let count = data.len() / size;
    let length = json_length(count, size);
    UploadBody::from_chunks(length, move || json_chunks(data.clone(), size))
}

/// The length of clkhash's `{"clks": ["<base64>", …]}` for `count` encodings of `size` bytes.
fn json_length(count: usize, size: usize) -> u64 {
    let quoted = 4 * size.div_ceil(3) + 2;
    (JSON_PREFIX.len() + count * quoted + count.saturating_sub(1) * 2 + JSON_SUFFIX.len()) as u64
}

const JSON_PREFIX: &str = "{\"clks\": [";
const JSON_SUFFIX: &str = "]}";

/// clkhash's JSON of binary encodings of `size` bytes, [`CHUNK_ENCODINGS`] at a time.
fn json_chunks(data: Bytes, size: usize) -> impl Iterator<Item = Bytes> + Send {
    let count = data.len() / size;
    (0..count.max(1))
        .step_by(CHUNK_ENCODINGS)
        .map(move |start| {
            let end = (start + CHUNK_ENCODINGS).min(count);
            let mut text = String::with_capacity((end - start) * (4 * size.div_ceil(3) + 4) + 12);
            if start == 0 {
                text.push_str(JSON_PREFIX);
            }
            for index in start..end {
                if index > 0 {
                    text.push_str(", ");
                }
                text.push('"');
                let clk = Clk::from_bytes(data[index * size..(index + 1) * size].to_vec());
                text.push_str(&clk.to_base64());
                text.push('"');
            }
            if end == count {
                text.push_str(JSON_SUFFIX);
            }
            Bytes::from(text)
        })
}

/// A progress bar over `total_bytes` on stderr (hidden when stderr is not a terminal), and the
/// callback that moves it.
pub(crate) fn byte_progress(label: &str, total_bytes: u64) -> (ProgressBar, ProgressFn) {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    let template =
        format!("{label} {{bar:40}} {{bytes}}/{{total_bytes}} ({{binary_bytes_per_sec}}) {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    let moved = bar.clone();
    let progress: ProgressFn = Arc::new(move |sent| {
        moved.set_position(sent);
        if sent > 0 && moved.length() == Some(sent) {
            moved.set_message("sent; waiting for the server");
        }
    });
    (bar, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_sniffing_skips_blanks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"  \n{\"clks\": []}").unwrap();
        assert!(starts_like_json(&path).unwrap());
        std::fs::write(&path, [0u8, b'{']).unwrap();
        assert!(!starts_like_json(&path).unwrap());
        std::fs::write(&path, b"").unwrap();
        assert!(!starts_like_json(&path).unwrap());
        let err = starts_like_json(&dir.path().join("missing.bin")).unwrap_err();
        assert!(err.to_string().contains("missing.bin"), "{err}");
    }

    #[test]
    fn raw_clks_drop_the_word_padding() {
        let clks = ClkSet::from_bytes([[1u8, 2, 3], [4, 5, 6]]).unwrap();
        assert_eq!(&raw_clks(&clks, 0..2)[..], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(&raw_clks(&clks, 1..2)[..], &[4, 5, 6]);
    }

    #[test]
    fn conversions_round_trip_with_the_announced_lengths() {
        let size = 5;
        let data: Vec<u8> = (0..(CHUNK_ENCODINGS + 3) * size)
            .map(|i| (i * 7) as u8)
            .collect();
        let clks = Arc::new(ClkSet::from_bytes(data.chunks(size)).unwrap());
        assert_eq!(binary_from_clks(clks.clone()).len(), data.len() as u64);
        let binary: Vec<u8> = binary_chunks(clks)
            .flat_map(|chunk| chunk.to_vec())
            .collect();
        assert_eq!(binary, data);

        let json: Vec<u8> = json_chunks(Bytes::from(data.clone()), size)
            .flat_map(|chunk| chunk.to_vec())
            .collect();
        assert_eq!(json.len() as u64, json_length(data.len() / size, size));
        assert_eq!(
            json_from_binary(Bytes::from(data.clone()), size).len(),
            json.len() as u64
        );
        let parsed = read_clk_document(&json[..], None).unwrap();
        assert_eq!(
            parsed.clks(),
            &ClkSet::from_bytes(data.chunks(size)).unwrap()
        );
    }

    #[test]
    fn json_of_one_encoding_is_clkhash_layout() {
        let json: Vec<u8> = json_chunks(Bytes::from_static(&[0xff]), 1)
            .flat_map(|chunk| chunk.to_vec())
            .collect();
        assert_eq!(String::from_utf8(json).unwrap(), r#"{"clks": ["/w=="]}"#);
        assert_eq!(json_length(1, 1), r#"{"clks": ["/w=="]}"#.len() as u64);
    }
}
