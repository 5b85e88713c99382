//! Browser signals: what a browser sends besides its `User-Agent`, kept
//! privacy-minded (issue 11). The low-entropy User-Agent Client Hints
//! (`Sec-CH-UA`, `Sec-CH-UA-Mobile`, `Sec-CH-UA-Platform`, and
//! `Sec-CH-UA-Platform-Version` once the sign-in page asked for it with
//! `Accept-CH`), `Accept-Language`, and the time-zone offset the sign-in
//! page's own script reports. No canvas or WebGL fingerprinting.
//!
//! They join a [`crate::event::LoginEvent`] as optional fields. The history
//! stores only a 16-bit hash per device ([`BrowserSignals::fingerprint`]),
//! never the values. The hash covers what stays put for one browser
//! install — its brands, platform, mobile flag and first language — and
//! leaves out what moves legitimately: the brands' versions and the
//! platform version (updates) and the time-zone offset (travel).
//!
//! A copied `User-Agent` string is easy; a stolen device cookie replayed
//! from another browser of the same family usually still differs here
//! (another language, no client hints at all from a script), which is what
//! `device_mismatch` looks for.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::hashing::{Level, hash};

/// The optional browser signals of one login, as the BRIEF's event format
/// names them. Absent fields are unknown, not empty: traces without them
/// score exactly as before.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrowserSignals {
    /// The `Sec-CH-UA*` headers by name (`{"Sec-CH-UA": "\"Chromium\";v=\"131\"",
    /// "Sec-CH-UA-Platform": "\"Linux\"", "Sec-CH-UA-Mobile": "?0"}`); names
    /// are matched without regard to case, a boolean mobile flag is read
    /// as `?1`/`?0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_hints: Option<BTreeMap<String, Value>>,
    /// `Accept-Language` as sent (an empty string: the header was absent
    /// from a request that should carry it).
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub accept_language: Option<String>,
    /// Minutes east of UTC the browser's clock reports (Beijing +480),
    /// from the sign-in page's script (not hashed: travel). A value that is
    /// not a plausible offset is read as absent, never as a bad line.
    #[serde(
        default,
        deserialize_with = "lenient_offset",
        skip_serializing_if = "Option::is_none"
    )]
    pub tz_offset_min: Option<i16>,
}

impl BrowserSignals {
    /// Whether any signal was recorded. An event without any is judged on
    /// its user agent alone.
    pub fn present(&self) -> bool {
        self.client_hints.as_ref().is_some_and(|h| !h.is_empty()) || self.accept_language.is_some()
    }

    /// One client hint by header name (any case), as text.
    pub fn hint(&self, name: &str) -> Option<String> {
        let (_, v) = self
            .client_hints
            .as_ref()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))?;
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(if *b { "?1" } else { "?0" }.to_owned()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// The stable part as a 16-bit hash (two per device slot keep a
    /// history under 2 KiB; a replay slips through one time in 65,535); 0
    /// when nothing was recorded, so a real fingerprint is never 0.
    pub fn fingerprint(&self) -> u16 {
        if !self.present() {
            return 0;
        }
        let text = format!(
            "{}|{}|{}|{}",
            brands(self.hint("Sec-CH-UA").as_deref()).join(","),
            unquote(self.hint("Sec-CH-UA-Platform").as_deref()).to_ascii_lowercase(),
            unquote(self.hint("Sec-CH-UA-Mobile").as_deref()),
            first_language(self.accept_language.as_deref()),
        );
        let x = hash(Level::Device, format!("signals\0{text}").as_bytes());
        let x = x ^ (x >> 32);
        ((x ^ (x >> 16)) as u16).max(1)
    }

    /// For a reason's text: `brands chromium, platform "Linux", language zh-cn`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let brands = brands(self.hint("Sec-CH-UA").as_deref());
        parts.push(if brands.is_empty() {
            "no client hints".to_owned()
        } else {
            format!("brands {}", brands.join("+"))
        });
        let platform = self.hint("Sec-CH-UA-Platform").unwrap_or_default();
        let platform = unquote(Some(&platform));
        if !platform.is_empty() {
            parts.push(format!("platform {platform:?}"));
        }
        let lang = first_language(self.accept_language.as_deref());
        parts.push(if lang.is_empty() {
            "no Accept-Language".to_owned()
        } else {
            format!("language {lang}")
        });
        parts.join(", ")
    }
}

/// A string, or absent for anything else (a producer's odd value must not
/// make the whole line unreadable).
fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// An offset in minutes within ±14 h, from an integer, a float or a
/// numeric string; absent otherwise.
fn lenient_offset<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i16>, D::Error> {
    let v = Value::deserialize(d)?;
    let m = match &v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    Ok(m.filter(|m| m.is_finite() && m.abs() <= 14.0 * 60.0)
        .map(|m| m.round() as i16))
}

/// A short copy of [`BrowserSignals::describe`] that a prepared event can
/// carry by value (it is `Copy`), for the reason's text; cut at 80 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    buf: [u8; 80],
    len: u8,
}

impl Note {
    /// The description of `s`, empty when nothing was recorded.
    pub fn of(s: &BrowserSignals) -> Note {
        let mut note = Note {
            buf: [0; 80],
            len: 0,
        };
        if !s.present() {
            return note;
        }
        let text = s.describe();
        let mut end = text.len().min(note.buf.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        note.buf[..end].copy_from_slice(&text.as_bytes()[..end]);
        note.len = end as u8;
        note
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

fn unquote(v: Option<&str>) -> &str {
    v.unwrap_or("").trim().trim_matches('"')
}

/// The brand names of a `Sec-CH-UA` list, without versions and without
/// the GREASE brand (its name changes from release to release), sorted.
fn brands(v: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = v
        .unwrap_or("")
        .split(',')
        .filter_map(|item| {
            let name = item.split(';').next()?.trim().trim_matches('"').trim();
            let grease = name.contains("Not") && name.contains("Brand");
            (!name.is_empty() && !grease).then(|| name.to_ascii_lowercase())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The first language range of an `Accept-Language` header, lower case
/// (`zh-CN,zh;q=0.9,en;q=0.8` → `zh-cn`); empty when absent.
fn first_language(v: Option<&str>) -> String {
    v.unwrap_or("")
        .split(',')
        .next()
        .and_then(|l| l.split(';').next())
        .map(|l| l.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ua: Option<&str>, platform: Option<&str>, lang: Option<&str>) -> BrowserSignals {
        let mut hints = BTreeMap::new();
        if let Some(ua) = ua {
            hints.insert("Sec-CH-UA".to_owned(), Value::from(ua));
            hints.insert("Sec-CH-UA-Mobile".to_owned(), Value::from("?0"));
        }
        if let Some(p) = platform {
            hints.insert("Sec-CH-UA-Platform".to_owned(), Value::from(p));
        }
        BrowserSignals {
            client_hints: (!hints.is_empty()).then_some(hints),
            accept_language: lang.map(str::to_owned),
            tz_offset_min: None,
        }
    }

    const CHROMIUM_131: &str = r#""Chromium";v="131", "Not_A Brand";v="24""#;
    const CHROMIUM_132: &str = r#""Not A(Brand";v="8", "Chromium";v="132""#;
    const CHROME: &str = r#""Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24""#;

    #[test]
    fn the_fingerprint_keeps_what_stays_and_drops_what_moves() {
        let base = s(
            Some(CHROMIUM_131),
            Some("\"Linux\""),
            Some("zh-CN,zh;q=0.9"),
        );
        // (name, other signals, same fingerprint as `base`)
        let cases: Vec<(&str, BrowserSignals, bool)> = vec![
            ("identical", base.clone(), true),
            (
                "browser update, new GREASE brand",
                s(
                    Some(CHROMIUM_132),
                    Some("\"Linux\""),
                    Some("zh-CN,zh;q=0.9"),
                ),
                true,
            ),
            (
                "other q-values after the first language",
                s(Some(CHROMIUM_131), Some("\"Linux\""), Some("zh-CN;q=1, en")),
                true,
            ),
            (
                "travel: another time zone and platform version",
                {
                    let mut b = base.clone();
                    b.tz_offset_min = Some(60);
                    let hints = b.client_hints.as_mut().unwrap();
                    hints.insert("Sec-CH-UA-Platform-Version".into(), "\"6.2\"".into());
                    b
                },
                true,
            ),
            (
                "the hint names in lower case, mobile as a boolean",
                BrowserSignals {
                    client_hints: Some(BTreeMap::from([
                        ("sec-ch-ua".to_owned(), Value::from(CHROMIUM_131)),
                        ("sec-ch-ua-platform".to_owned(), Value::from("\"Linux\"")),
                        ("sec-ch-ua-mobile".to_owned(), Value::Bool(false)),
                    ])),
                    ..base.clone()
                },
                true,
            ),
            (
                "another language",
                s(Some(CHROMIUM_131), Some("\"Linux\""), Some("de-DE,de")),
                false,
            ),
            (
                "another brand set",
                s(Some(CHROME), Some("\"Linux\""), Some("zh-CN,zh;q=0.9")),
                false,
            ),
            (
                "another platform",
                s(Some(CHROMIUM_131), Some("\"Windows\""), Some("zh-CN")),
                false,
            ),
            (
                "no client hints (a script with a copied UA)",
                s(None, None, Some("zh-CN,zh;q=0.9")),
                false,
            ),
            (
                "Accept-Language missing",
                s(Some(CHROMIUM_131), Some("\"Linux\""), Some("")),
                false,
            ),
        ];
        for (name, other, same) in cases {
            assert_ne!(other.fingerprint(), 0, "{name}");
            assert_eq!(
                other.fingerprint() == base.fingerprint(),
                same,
                "{name}: {}",
                other.describe()
            );
        }
        assert_eq!(BrowserSignals::default().fingerprint(), 0);
        assert!(!BrowserSignals::default().present());
    }

    #[test]
    fn the_briefs_event_fields_parse_leniently() {
        let line = |extra: &str| {
            format!(
                r#"{{"ts":"2026-03-01T08:15:02Z","user":"a","ip":"203.0.113.7","user_agent":"x","success":true{extra}}}"#
            )
        };
        let ev = crate::event::LoginEvent::parse(
            &line(
                r#","client_hints":{"Sec-CH-UA":"\"Chromium\";v=\"131\"","Sec-CH-UA-Mobile":false},"accept_language":"zh-CN","tz_offset_min":480"#,
            ),
            1,
        )
        .unwrap();
        assert_eq!(
            ev.signals.hint("sec-ch-ua").as_deref(),
            Some("\"Chromium\";v=\"131\"")
        );
        assert_eq!(ev.signals.hint("Sec-CH-UA-Mobile").as_deref(), Some("?0"));
        assert_eq!(ev.signals.accept_language.as_deref(), Some("zh-CN"));
        assert_eq!(ev.signals.tz_offset_min, Some(480));
        // Odd values are absent, never a malformed line.
        let cases = [
            (r#","tz_offset_min":"-300""#, Some(-300)),
            (r#","tz_offset_min":330.0"#, Some(330)),
            (r#","tz_offset_min":99999"#, None),
            (r#","tz_offset_min":null"#, None),
            (r#","tz_offset_min":"east""#, None),
            (r#","accept_language":7"#, None),
            ("", None),
        ];
        for (extra, want) in cases {
            let ev = crate::event::LoginEvent::parse(&line(extra), 1).unwrap();
            assert_eq!(ev.signals.tz_offset_min, want, "{extra}");
            assert_eq!(ev.signals.accept_language, None, "{extra}");
        }
        // And they are written back flat, under the same names.
        let back = serde_json::to_value(&ev).unwrap();
        assert_eq!(back["client_hints"]["Sec-CH-UA-Mobile"], false, "{back}");
        assert_eq!(
            (&back["accept_language"], &back["tz_offset_min"]),
            (&"zh-CN".into(), &480.into())
        );
    }

    #[test]
    fn descriptions_name_the_values() {
        let d = s(Some(CHROME), Some("\"Linux\""), Some("zh-CN,zh")).describe();
        assert_eq!(
            d,
            "brands chromium+google chrome, platform \"Linux\", language zh-cn"
        );
        assert_eq!(
            s(None, None, Some("")).describe(),
            "no client hints, no Accept-Language"
        );
        assert_eq!(
            Note::of(&s(None, None, Some("zh"))).as_str(),
            "no client hints, language zh"
        );
        assert_eq!(Note::of(&BrowserSignals::default()).as_str(), "");
        let long = s(None, None, Some(&"语".repeat(40)));
        let cut = Note::of(&long);
        assert!(cut.as_str().len() <= 80 && long.describe().starts_with(cut.as_str()));
    }
}
