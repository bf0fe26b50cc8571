//! PostgreSQL sources: one table read whole, every column cast to text, over a connection of the
//! dispatcher's own. The connection string never appears in an error: messages name the table and
//! what failed, and anything that looks like the URL or its password is blanked besides.

use secrecy::{ExposeSecret, SecretString};
use sqlx::{Connection, PgConnection, Row};
use veil_synth::RawTable;

/// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1).
const MAX_IDENTIFIER: usize = 63;

/// Splits `table` or `schema.table` into its parts, each an identifier of ASCII letters, digits and
/// `_` that does not start with a digit.
pub(crate) fn parse_table_name(text: &str) -> Result<(Option<&str>, &str), String> {
    let valid = |part: &str| {
        !part.is_empty()
            && part.len() <= MAX_IDENTIFIER
            && !part.starts_with(|c: char| c.is_ascii_digit())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let (schema, table) = match text.split_once('.') {
        Some((schema, table)) => (Some(schema), table),
        None => (None, text),
    };
    if !schema.is_none_or(valid) || !valid(table) {
        return Err(format!(
            "{text:?} is not a table name: expected `table` or `schema.table` of letters, digits \
             and `_`"
        ));
    }
    Ok((schema, table))
}

/// An identifier in double quotes, inner quotes doubled.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Reads table `table` (see [`parse_table_name`]); more than `max_rows` rows is an error.
pub(crate) async fn read_table(
    url: &SecretString,
    max_rows: Option<u64>,
    table: &str,
) -> Result<RawTable, String> {
    let (schema, name) = parse_table_name(table)?;
    let qualified = match schema {
        Some(schema) => format!("{}.{}", quote(schema), quote(name)),
        None => quote(name),
    };
    let failed = |what: &str, error: sqlx::Error| describe(what, &error, url);
    let mut connection = PgConnection::connect(url.expose_secret())
        .await
        .map_err(|e| failed("cannot connect to the database", e))?;
    // Only SELECTs are sent, but the session is read-only all the same.
    sqlx::query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        .execute(&mut connection)
        .await
        .map_err(|e| failed("cannot open a read-only session", e))?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_catalog.pg_attribute \
         WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .bind(&qualified)
    .fetch_all(&mut connection)
    .await
    .map_err(|e| failed(&format!("cannot look up table {table:?}"), e))?;
    if names.is_empty() {
        return Err(format!(
            "no table {table:?} with columns in this source (names are case-sensitive)"
        ));
    }
    let select: Vec<String> = names
        .iter()
        .map(|column| format!("{}::text", quote(column)))
        .collect();
    let limit = max_rows
        .map(|max| format!(" LIMIT {}", max.saturating_add(1)))
        .unwrap_or_default();
    let query = format!("SELECT {} FROM {qualified}{limit}", select.join(", "));
    let rows = sqlx::query(&query)
        .fetch_all(&mut connection)
        .await
        .map_err(|e| failed(&format!("cannot read table {table:?}"), e))?;
    let _ = connection.close().await;
    if let Some(max) = max_rows {
        if rows.len() as u64 > max {
            return Err(format!(
                "table {table:?} has more than {max} rows, the most this source reads"
            ));
        }
    }
    let mut columns: Vec<Vec<String>> = vec![Vec::with_capacity(rows.len()); names.len()];
    for row in &rows {
        for (index, column) in columns.iter_mut().enumerate() {
            let value: Option<String> = row.try_get(index).map_err(|_| {
                format!(
                    "table {table:?}, column {:?}: not readable as text",
                    names[index]
                )
            })?;
            column.push(value.unwrap_or_default());
        }
    }
    Ok(RawTable { names, columns })
}

/// What went wrong, without the connection string: the server's own message for database errors
/// (they name relations and roles, not passwords), a category otherwise.
fn describe(what: &str, error: &sqlx::Error, url: &SecretString) -> String {
    let detail = match error {
        sqlx::Error::Database(database) => format!(
            "the database answered {:?} (SQLSTATE {})",
            database.message(),
            database.code().unwrap_or_default()
        ),
        sqlx::Error::Io(io) => format!("network error ({})", io.kind()),
        sqlx::Error::Tls(_) => "TLS handshake failed".to_string(),
        sqlx::Error::Configuration(_) => "the connection string is not valid".to_string(),
        sqlx::Error::PoolTimedOut => "timed out".to_string(),
        sqlx::Error::Protocol(_) => "the server broke the protocol".to_string(),
        _ => "the database request failed".to_string(),
    };
    scrub(format!("{what}: {detail}"), url)
}

/// Blanks the URL and its password, should a message ever carry them.
fn scrub(mut text: String, url: &SecretString) -> String {
    let url = url.expose_secret();
    let password = ::url::Url::parse(url)
        .ok()
        .and_then(|parsed| parsed.password().map(str::to_string));
    for secret in [Some(url.to_string()), password].into_iter().flatten() {
        if secret.len() >= 3 {
            text = text.replace(&secret, "[redacted]");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_plain_identifiers() {
        assert_eq!(parse_table_name("people"), Ok((None, "people")));
        assert_eq!(
            parse_table_name("crm.people_2026"),
            Ok((Some("crm"), "people_2026"))
        );
        for bad in [
            "",
            "people; DROP TABLE x",
            "a.b.c",
            ".people",
            "crm.",
            "\"people\"",
            "1table",
            "peo ple",
            "naïve",
            &"x".repeat(64),
        ] {
            let error = parse_table_name(bad).unwrap_err();
            assert!(error.contains("not a table name"), "{bad}: {error}");
        }
    }

    #[test]
    fn quoting_doubles_inner_quotes() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn scrub_blanks_url_and_password() {
        let url = SecretString::from("postgres://u:hunter2secret@db/x");
        let text = scrub(
            "at postgres://u:hunter2secret@db/x: bad hunter2secret".into(),
            &url,
        );
        assert!(!text.contains("hunter2secret"), "{text}");
    }
}
