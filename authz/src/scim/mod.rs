//! SCIM 2.0 provisioning (RFC 7643/7644): pushes users and groups to
//! targets such as vCenter's identity broker.
//!
//! - `store/scim.rs` — the outbox. Every user change enqueues "push the
//!   current state of this user / group" per target in the change's own
//!   transaction; rows coalesce and survive restarts.
//! - [`mapping`] — users and groups as SCIM resources (pure).
//! - [`client`] — HTTP with the target's bearer token; answers sorted into
//!   [`client::Failure`]s.
//! - [`deliver`] — one outbox row: create (POST), replace (PUT), membership
//!   PATCH, deactivate (`active: false`; users are never deleted).
//! - [`worker`] — the background loop: lease, due rows, backoff, metrics.
//! - [`plan`] — `tollgate scim sync [--dry-run]`: compare with the target.

pub mod client;
pub mod deliver;
pub mod mapping;
pub mod plan;
pub mod worker;

use crate::config::{Config, ScimTargetConfig};
use crate::secret::Secret;

/// A configured target with its token.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub base_url: String,
    /// The bearer token, read from `token_env` at start; never stored.
    pub token: Secret,
    /// Groups in scope; empty means all.
    pub groups: Vec<String>,
    /// A private CA trusted for this target besides the bundled roots;
    /// checked readable by [`target`], so `check-config` reports it.
    pub ca_file: Option<std::path::PathBuf>,
    /// Whether users and groups carry vCenter's `ws1b` extension.
    pub profile: crate::config::ScimProfile,
}

impl Target {
    /// Whether a user with `groups` is provisioned to this target.
    pub fn user_in_scope(&self, groups: &[String]) -> bool {
        self.groups.is_empty() || groups.iter().any(|g| self.groups.contains(g))
    }

    /// Whether a group is provisioned to this target.
    pub fn group_in_scope(&self, group: &str) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g == group)
    }
}

/// The configured targets, tokens read through `env`. A missing or empty
/// token variable is an error naming it.
pub fn targets(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Target>, String> {
    config
        .scim
        .targets
        .iter()
        .map(|t| target(t, env).map_err(|p| p.join("; ")))
        .collect()
}

/// One configured target with its token read through `env` and its
/// `ca_file` loaded; every problem, each naming the target and the key.
pub fn target(
    t: &ScimTargetConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, Vec<String>> {
    let mut problems = Vec::new();
    let token = env(&t.token_env).filter(|v| !v.trim().is_empty());
    if token.is_none() {
        problems.push(format!(
            "scim target {:?}: token_env: environment variable {} is not set",
            t.name, t.token_env
        ));
    }
    if let Some(path) = &t.ca_file
        && let Err(e) = crate::tls::read_ca_file(path)
    {
        problems.push(format!("scim target {:?}: ca_file: {e}", t.name));
    }
    match token {
        Some(token) if problems.is_empty() => Ok(Target {
            name: t.name.clone(),
            base_url: t.base_url.clone(),
            token: Secret::new(token.trim()),
            groups: t.groups.clone(),
            ca_file: t.ca_file.clone(),
            profile: t.profile,
        }),
        _ => Err(problems),
    }
}

/// Seconds to wait after the `failures`-th consecutive failure:
/// `base · 2^(failures-1)`, at most `max`. Pure, so the schedule is tested
/// without sleeping.
pub fn backoff(failures: i64, base: i64, max: i64) -> i64 {
    let shift = (failures.max(1) - 1).min(32) as u32;
    base.saturating_mul(1i64 << shift).min(max).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let got: Vec<i64> = (1..=8).map(|n| backoff(n, 2, 60)).collect();
        assert_eq!(got, vec![2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(0, 2, 60), 2);
        assert_eq!(backoff(1000, 2, 600), 600, "no overflow");
    }

    #[test]
    fn targets_need_their_token_variable() {
        let mut cfg = Config::demo("127.0.0.1:1");
        cfg.scim.targets.push(crate::config::ScimTargetConfig {
            name: "vc".into(),
            base_url: "https://vc.example/scim/v2".into(),
            token_env: "VC_TOKEN".into(),
            groups: vec!["vc-admins".into()],
            ca_file: None,
            profile: Default::default(),
        });
        let err = targets(&cfg, &|_| None).unwrap_err();
        assert_eq!(
            err,
            "scim target \"vc\": token_env: environment variable VC_TOKEN is not set"
        );
        cfg.scim.targets[0].ca_file = Some("/nonexistent/vmca.pem".into());
        let err = target(&cfg.scim.targets[0], &|_| None).unwrap_err();
        assert_eq!(err.len(), 2, "both problems at once: {err:?}");
        assert!(
            err[1].starts_with("scim target \"vc\": ca_file: /nonexistent/vmca.pem: "),
            "{err:?}"
        );
        cfg.scim.targets[0].ca_file = None;
        let t = targets(&cfg, &|k| (k == "VC_TOKEN").then(|| "tok".into())).unwrap();
        assert_eq!(format!("{:?}", t[0].token), "[redacted]");
        assert!(t[0].user_in_scope(&["x".into(), "vc-admins".into()]));
        assert!(!t[0].user_in_scope(&["x".into()]));
        assert!(t[0].group_in_scope("vc-admins") && !t[0].group_in_scope("x"));
    }
}
