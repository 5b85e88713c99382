//! The login event: one JSON object per line, as defined in the BRIEF.
//!
//! Parsing is strict about the required fields (`ts`, `user`, `ip`,
//! `user_agent`, `success`) and lenient about everything else: unknown
//! fields are ignored so newer producers do not break older scorers.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Result, RiskError};

/// Ground truth attached to evaluation data only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// The real account holder.
    Legit,
    /// Someone else using the account's credentials.
    Attack,
}

/// One login attempt. Serialises back to the BRIEF's format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginEvent {
    /// When the attempt happened (RFC 3339 on the wire).
    #[serde(
        deserialize_with = "de_ts",
        serialize_with = "time::serde::rfc3339::serialize"
    )]
    pub ts: OffsetDateTime,
    /// The login name tried.
    pub user: String,
    /// The client's address, IPv4 or IPv6.
    pub ip: IpAddr,
    /// The raw `User-Agent` header.
    pub user_agent: String,
    /// The long-lived device cookie or agent key id, if one was presented.
    #[serde(default)]
    pub device_id: Option<String>,
    /// Whether the primary factor succeeded.
    pub success: bool,
    /// Evaluation label, absent in production traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// For attacks in simulated traces: `naive`, `vpn`, `targeted` or `stuffing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack_kind: Option<String>,
    /// OIDC client id, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Round-trip time measured by the front end, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Client hints, `Accept-Language` and the time-zone offset, when the
    /// front end recorded them (flat in the JSON: `ch_ua`,
    /// `ch_ua_platform`, `ch_ua_platform_version`, `ch_ua_mobile`,
    /// `accept_language`, `tz_offset_min`).
    #[serde(flatten)]
    pub signals: crate::signals::BrowserSignals,
}

impl LoginEvent {
    /// Seconds since the Unix epoch: the crate's internal time unit.
    pub fn unix(&self) -> i64 {
        self.ts.unix_timestamp()
    }

    /// Parses one line; `line` (1-based) is used only for the error.
    pub fn parse(text: &str, line: usize) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| RiskError::MalformedEvent {
            line,
            message: e.to_string(),
        })
    }
}

/// Parses `ts`, naming the field in the error so a bad line says what is wrong.
fn de_ts<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<OffsetDateTime, D::Error> {
    let s = String::deserialize(d)?;
    OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| serde::de::Error::custom(format!("ts {s:?} is not an RFC 3339 time: {e}")))
}

/// A parsed input file: valid events with their line numbers, and the errors
/// of the lines that were skipped.
#[derive(Debug, Default)]
pub struct ParsedEvents {
    /// `(1-based line number, event)` in input order.
    pub events: Vec<(usize, LoginEvent)>,
    /// One error per malformed line, in input order.
    pub errors: Vec<RiskError>,
}

/// Parses JSON Lines. Blank lines are skipped silently. With `strict`, the
/// first malformed line is returned as the error; otherwise malformed lines
/// are collected in [`ParsedEvents::errors`] and skipped.
pub fn parse_lines(text: &str, strict: bool) -> Result<ParsedEvents> {
    let mut out = ParsedEvents::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        match LoginEvent::parse(raw, line) {
            Ok(ev) => out.events.push((line, ev)),
            Err(e) if strict => return Err(e),
            Err(e) => out.errors.push(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: std::result::Result<(&str, Option<&str>, bool), &str>) {
        match (LoginEvent::parse(input, 7), expected) {
            (Ok(ev), Ok((user, dev, success))) => {
                assert_eq!(ev.user, user);
                assert_eq!(ev.device_id.as_deref(), dev);
                assert_eq!(ev.success, success);
            }
            (Err(e), Err(fragment)) => {
                let msg = e.to_string();
                assert!(msg.starts_with("line 7: "), "{msg}");
                assert!(msg.contains(fragment), "{msg} lacks {fragment}");
            }
            (got, want) => panic!("input {input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn parses_brief_format_and_rejects_malformed_lines() {
        let base = r#""ts":"2026-03-01T08:15:02Z","ip":"203.0.113.7","user_agent":"x""#;
        check(
            &format!(
                r#"{{{base},"user":"alice","device_id":"d-1","success":true,"label":"legit","extra":1}}"#
            ),
            Ok(("alice", Some("d-1"), true)),
        );
        check(
            &format!(r#"{{{base},"user":"bob","device_id":null,"success":false}}"#),
            Ok(("bob", None, false)),
        );
        check(
            &format!(r#"{{{base},"success":true}}"#),
            Err("missing field `user`"),
        );
        check(
            r#"{"ts":"yesterday","user":"a","ip":"1.2.3.4","user_agent":"x","success":true}"#,
            Err("year"),
        );
        check(
            r#"{"ts":"2026-03-01T08:15:02Z","user":"a","ip":"1.2.3","user_agent":"x","success":true}"#,
            Err("address"),
        );
        check("not json", Err("expected"));
    }

    #[test]
    fn lenient_mode_collects_errors_with_line_numbers() {
        let ok = r#"{"ts":"2026-03-01T08:15:02Z","user":"a","ip":"::1","user_agent":"x","success":true}"#;
        let text = format!("{ok}\n\n{{bad\n{ok}\n");
        let parsed = parse_lines(&text, false).unwrap();
        let lines: Vec<usize> = parsed.events.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 4]);
        assert_eq!(parsed.errors.len(), 1);
        assert!(parsed.errors[0].to_string().starts_with("line 3:"));
        assert!(parse_lines(&text, true).is_err());
    }
}
