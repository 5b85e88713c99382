//! Signed audit checkpoints: what makes truncation of the audit log
//! visible.
//!
//! The hash chain (`store/audit.rs`) shows a record edited or removed in
//! the middle, but deleting the newest records leaves a shorter chain that
//! is still perfectly linked. A checkpoint is the issuer's signed word
//! (JWS `typ` `audit-checkpoint+jwt`, the current signing key) for the
//! record count and head hash at a moment. It is written periodically
//! (`[audit] checkpoint_interval`) and at shutdown, into its own table and,
//! when `[audit] checkpoint_file` is set, appended as a JSON line to a file
//! that can live on append-only storage out of the database's reach.
//! `tollgate audit verify` checks the chain against the newest checkpoint
//! it can find and says which records are gone.

use crate::keys::{Alg, Keyring};
use crate::store::{Checkpoint, Store};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The JWS `typ` of a checkpoint: never accepted as any other token.
pub const TYP: &str = "audit-checkpoint+jwt";

/// What the signature covers.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Claims {
    iss: String,
    iat: i64,
    record_count: i64,
    last_id: i64,
    head_hash: String,
}

/// Signs and stores a checkpoint of the chain as it is at `now`; appends
/// it to `file` too, if given.
pub async fn write(
    store: &Store,
    keyring: &Keyring,
    alg: Alg,
    issuer: &str,
    file: Option<&Path>,
    now: i64,
) -> Result<Checkpoint, String> {
    let (record_count, last_id, head_hash) = store.audit_head().await.map_err(|e| e.to_string())?;
    let claims = Claims {
        iss: issuer.to_owned(),
        iat: now,
        record_count,
        last_id,
        head_hash: head_hash.clone(),
    };
    let jws = keyring
        .sign(alg, Some(TYP), &claims, now)
        .map_err(|e| e.to_string())?;
    let c = Checkpoint {
        ts: now,
        record_count,
        last_id,
        head_hash,
        jws,
    };
    store
        .insert_checkpoint(&c)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(f) = file {
        use std::io::Write;
        let line = serde_json::to_string(&c).map_err(|e| e.to_string())?;
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(f)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        writeln!(out, "{line}").map_err(|e| format!("{}: {e}", f.display()))?;
        out.sync_data()
            .map_err(|e| format!("{}: {e}", f.display()))?;
    }
    Ok(c)
}

/// The newest checkpoint in an exported file (`file:line: …` if a line
/// is not one).
pub fn newest_in_file(path: &Path) -> Result<Option<Checkpoint>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut newest: Option<Checkpoint> = None;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let c: Checkpoint = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: not a checkpoint: {e}", path.display(), i + 1))?;
        if newest.as_ref().is_none_or(|n| c.last_id >= n.last_id) {
            newest = Some(c);
        }
    }
    Ok(newest)
}

/// The signature is ours, of the right type, and says what the fields say.
pub fn authentic(keyring: &Keyring, issuer: &str, c: &Checkpoint) -> Result<(), String> {
    let v = keyring
        .verify(&c.jws)
        .map_err(|e| format!("the checkpoint of {} has a bad signature: {e}", c.ts))?;
    if v.typ.as_deref() != Some(TYP) {
        return Err(format!(
            "the checkpoint of {} is not a checkpoint token",
            c.ts
        ));
    }
    let signed: Claims =
        serde_json::from_value(v.claims).map_err(|e| format!("the checkpoint of {}: {e}", c.ts))?;
    let stated = Claims {
        iss: issuer.to_owned(),
        iat: c.ts,
        record_count: c.record_count,
        last_id: c.last_id,
        head_hash: c.head_hash.clone(),
    };
    if signed != stated {
        return Err(format!(
            "the checkpoint of {} does not say what was signed",
            c.ts
        ));
    }
    Ok(())
}

/// What the log holds up to a checkpoint's last record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upto {
    /// Records with `id <= last_id`.
    pub count: i64,
    /// The largest id `<= last_id` still present (0: none).
    pub max_id: i64,
    /// The hash of record `last_id`, if it is there.
    pub hash_at_last: Option<String>,
}

/// Compares the log with an authentic checkpoint; the problem, in words
/// that say which records are missing.
pub fn compare(c: &Checkpoint, upto: &Upto) -> Result<(), String> {
    if c.last_id == 0 {
        return Ok(());
    }
    match &upto.hash_at_last {
        None => Err(format!(
            "records {}..={} are missing: the checkpoint of {} counts {} records ending at record {}, \
             the log keeps {} of them and ends at record {}",
            upto.max_id + 1,
            c.last_id,
            c.ts,
            c.record_count,
            c.last_id,
            upto.count,
            upto.max_id
        )),
        Some(h) if *h != c.head_hash => Err(format!(
            "record {} does not match the head of the checkpoint of {} (records were replaced)",
            c.last_id, c.ts
        )),
        Some(_) if upto.count != c.record_count => Err(format!(
            "{} of the {} records up to record {} are missing (checkpoint of {})",
            c.record_count - upto.count,
            c.record_count,
            c.last_id,
            c.ts
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_and_replacement_are_named() {
        let c = Checkpoint {
            ts: 100,
            record_count: 10,
            last_id: 10,
            head_hash: "h10".into(),
            jws: String::new(),
        };
        let upto = |count, max_id, h: Option<&str>| Upto {
            count,
            max_id,
            hash_at_last: h.map(str::to_owned),
        };
        let cases = [
            (upto(10, 10, Some("h10")), None),
            (upto(7, 7, None), Some("records 8..=10 are missing")),
            (
                upto(10, 10, Some("other")),
                Some("record 10 does not match"),
            ),
            (
                upto(9, 10, Some("h10")),
                Some("1 of the 10 records up to record 10 are missing"),
            ),
        ];
        for (u, want) in cases {
            let got = compare(&c, &u);
            match want {
                None => assert_eq!(got, Ok(()), "{u:?}"),
                Some(w) => assert!(got.as_ref().unwrap_err().contains(w), "{u:?}: {got:?}"),
            }
        }
        let empty = Checkpoint {
            last_id: 0,
            record_count: 0,
            ..c
        };
        assert_eq!(compare(&empty, &upto(0, 0, None)), Ok(()));
    }
}
