//! Several statements as one SQLite script: one trip to sqlx's worker
//! thread instead of one per statement.
//!
//! Each statement sent to a SQLite connection is a hop to the thread that
//! owns it and back, and under a sign-in load the hops, not SQLite, are most
//! of a write's cost (docs/operations.md). sqlx runs a query string with
//! several statements on SQLite in one go, binding `$N` by number across
//! all of them, so a transaction of `n` statements can be sent as one
//! `BEGIN IMMEDIATE; …; COMMIT` with every statement's placeholders moved
//! past the binds of the ones before it. PostgreSQL does not take several
//! statements with binds in one query; there the statements keep their
//! own round trips.

use sqlx::Execute;
use sqlx::any::AnyArguments;

use super::writer::Stmt;

/// The statements as one transaction: its text and its binds. The script's
/// results are `BEGIN`'s, then each statement's in order, then `COMMIT`'s.
pub(crate) fn transaction(
    stmts: Vec<Stmt>,
) -> Result<(String, AnyArguments<'static>), sqlx::Error> {
    let mut text = String::from("BEGIN IMMEDIATE;\n");
    let mut args = AnyArguments::default();
    for mut stmt in stmts {
        let sql = stmt.sql();
        let body = sql.trim().trim_end_matches(';');
        text.push_str(&renumber(body, args.values.0.len())?);
        text.push_str(";\n");
        let own = stmt
            .take_arguments()
            .map_err(sqlx::Error::Encode)?
            .unwrap_or_default();
        // sqlx offers no public way to move binds between argument lists; its
        // (hidden but public) buffer is the list itself. Cargo.lock pins sqlx.
        args.values.0.extend(own.values.0);
    }
    text.push_str("COMMIT");
    Ok((text, args))
}

/// `sql` with every `$N` outside quotes made `$(N + by)`. A `?`
/// placeholder would bind by position, which a script cannot keep apart:
/// it is refused, as is a `$` not followed by a number.
fn renumber(sql: &str, by: usize) -> Result<String, sqlx::Error> {
    let refused = |why: &str| sqlx::Error::Protocol(format!("cannot script `{sql}`: {why}"));
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '?') => return Err(refused("a positional `?` placeholder")),
            (None, '$') => {
                let mut n = String::new();
                while let Some((_, d)) = chars.next_if(|(_, d)| d.is_ascii_digit()) {
                    n.push(d);
                }
                let n: usize = n.parse().map_err(|_| refused("a `$` without a number"))?;
                out.push('$');
                out.push_str(&(n + by).to_string());
                continue;
            }
            (None, _) => {}
        }
        out.push(c);
    }
    if quote.is_some() {
        return Err(refused("an unclosed quote"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn placeholders_move_past_the_binds_before_them() {
        let cases: &[(&str, usize, Option<&str>)] = &[
            ("SELECT $1", 0, Some("SELECT $1")),
            (
                "INSERT INTO t VALUES ($1, $2, $10)",
                3,
                Some("INSERT INTO t VALUES ($4, $5, $13)"),
            ),
            (
                "UPDATE t SET a = $2 WHERE b = $1 AND c = $2",
                7,
                Some("UPDATE t SET a = $9 WHERE b = $8 AND c = $9"),
            ),
            // Quoted text is the statement's, not a placeholder.
            (
                "SELECT '$1', \"$2\", $1",
                5,
                Some("SELECT '$1', \"$2\", $6"),
            ),
            ("SELECT 'it''s $1', $1", 1, Some("SELECT 'it''s $1', $2")),
            ("SELECT ?", 0, None),
            ("SELECT $x", 0, None),
            ("SELECT 'open", 0, None),
        ];
        for (sql, by, want) in cases {
            match (renumber(sql, *by), want) {
                (Ok(got), Some(w)) => assert_eq!(&got, w, "{sql}"),
                (Err(_), None) => {}
                (got, want) => panic!("{sql} by {by}: {got:?}, wanted {want:?}"),
            }
        }
    }
}
