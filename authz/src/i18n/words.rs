//! Codes in plain words for end users: assurance levels (`aal2` → "a
//! second factor") and the risk reasons behind a step-up ("this sign-in
//! comes from a new device"), in the request's locale.
//!
//! Only what the risk crate exposes is read: a reason's `code` and its
//! English `detail`. Impossible travel's places and time and a new
//! country's code are taken from the detail when it has the documented
//! shape; otherwise the plain sentence without values is shown.

use super::{t, t_args};

/// A level's `acr` in plain words; an unknown (policy-defined) level is
/// shown by its name.
pub fn level(acr: &str) -> String {
    match acr {
        "aal1" | "aal2" | "phr" | "phrh" => t(&format!("level-{acr}")),
        other => other.to_string(),
    }
}

/// The sentences for a step-up's risk reasons, without repeats; reasons
/// the catalogs have no words for are left out, and if none is left but
/// there were reasons, one general sentence stands for them.
pub fn risk_reasons<'a>(reasons: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    let mut any = false;
    for (code, detail) in reasons {
        any = true;
        if let Some(s) = reason(code, detail)
            && !out.contains(&s)
        {
            out.push(s);
        }
    }
    if out.is_empty() && any {
        out.push(t("reason-unusual"));
    }
    out
}

fn reason(code: &str, detail: &str) -> Option<String> {
    let plain = |id: &str| Some(t(id));
    match code {
        "impossible_travel" => match travel(detail) {
            Some((from, to, time)) => Some(t_args(
                "reason-impossible-travel-values",
                &[("from", from), ("to", to), ("time", &duration(time))],
            )),
            None => plain("reason-impossible-travel"),
        },
        "new_country" => match detail
            .strip_prefix("first login from ")
            .and_then(|r| r.split_once(' '))
            .map(|(cc, _)| cc)
            .filter(|cc| cc.len() == 2 && cc.chars().all(|c| c.is_ascii_uppercase()))
        {
            Some(cc) => Some(t_args("reason-new-country-values", &[("country", cc)])),
            None => plain("reason-new-country"),
        },
        "new_device" => plain("reason-new-device"),
        "device_mismatch" => plain("reason-device-mismatch"),
        "account_attack" => plain("reason-account-attack"),
        "stuffing_source" => plain("reason-stuffing-source"),
        "hosting_network" => plain("reason-hosting-network"),
        "anonymizer" => plain("reason-anonymizer"),
        "new_asn" => plain("reason-new-asn"),
        "sensitive_burst" => plain("reason-sensitive-burst"),
        _ => None,
    }
}

/// "1450 km/h from Beijing, CN to Frankfurt, DE in 40 min (limit …)" →
/// ("Beijing, CN", "Frankfurt, DE", "40 min").
fn travel(detail: &str) -> Option<(&str, &str, &str)> {
    let (_, rest) = detail.split_once(" km/h from ")?;
    let rest = rest.split(" (limit").next()?;
    let (places, time) = rest.rsplit_once(" in ")?;
    let (from, to) = places.split_once(" to ")?;
    Some((from, to, time))
}

/// "40 min" / "2.5 h" in the request's locale.
fn duration(time: &str) -> String {
    if let Some(n) = time.strip_suffix(" min") {
        t_args("duration-minutes", &[("n", n)])
    } else if let Some(n) = time.strip_suffix(" h") {
        t_args("duration-hours", &[("n", n)])
    } else {
        time.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn levels_and_reasons_are_plain_words_in_both_languages() {
        let travel = (
            "impossible_travel",
            "1450 km/h from Beijing, CN to Frankfurt, DE in 40 min (limit 800 km/h)",
        );
        let en = super::super::scope("en", false, Default::default(), async {
            (
                level("aal2"),
                level("phr"),
                risk_reasons([travel, ("new_device", "x"), ("new_device", "y")]),
                risk_reasons([("llr_ip", "whatever")]),
            )
        })
        .await;
        assert_eq!(en.0, "a second factor");
        assert_eq!(en.1, "a passkey");
        assert_eq!(
            en.2,
            [
                "Impossible travel: from Beijing, CN to Frankfurt, DE in 40 minutes",
                "This sign-in comes from a new device",
            ]
        );
        assert_eq!(en.3, ["This sign-in looks unusual"]);
        let zh = super::super::scope("zh-CN", false, Default::default(), async {
            (
                level("aal1"),
                level("aal2"),
                level("phr"),
                level("gold"),
                risk_reasons([travel, ("new_device", "x")]),
                risk_reasons([("impossible_travel", "unexpected shape")]),
            )
        })
        .await;
        assert_eq!(
            (zh.0.as_str(), zh.1.as_str(), zh.2.as_str()),
            ("密码", "第二重验证", "通行密钥")
        );
        assert_eq!(zh.3, "gold");
        assert_eq!(
            zh.4,
            [
                "异地登录：40 分钟内从 Beijing, CN 到 Frankfurt, DE",
                "这次登录来自新的设备",
            ]
        );
        assert_eq!(zh.5, ["异地登录"]);
    }
}
