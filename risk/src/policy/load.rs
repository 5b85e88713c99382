//! Loading a policy set: parse every file, merge, resolve lists and
//! levels, compile rules, and hash the bytes into the version.
//!
//! Merge rules for several files (given in order): `levels`, `bands` and
//! `risk` may each be written in at most one file; list names are unique
//! across the set; rules are concatenated in file order within their
//! stage. The version is `sha256:` over every byte read, in load order:
//! each policy file, then the list files it names, in the order listed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::conditions::{ASN_FORM, Cond, Lists, NETWORK_FORM, country_form, is_country, parse_asn};
use super::file::{ListSource, PolicyFile, RuleSpec, VerdictSpec};
use super::locate::{self, Pos};
use super::model::{
    Band, Effect, FactorSet, Ladder, Level, Origin, Rule, Stage, Verdict, default_ladder,
};
use super::{Diagnostic, Policy, Severity, known_reason_codes};

/// Reads a file the policy names (list files); injectable for tests.
pub type ReadFn<'a> = &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>;

struct Ctx<'a> {
    sources: &'a [(PathBuf, String)],
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn at(&mut self, file: usize, pos: Pos, severity: Severity, message: String) {
        self.diags.push(Diagnostic {
            file: self.sources[file].0.clone(),
            line: pos.line.max(1),
            col: pos.col.max(1),
            severity,
            message,
        });
    }

    fn err(&mut self, file: usize, pos: Pos, message: String) {
        self.at(file, pos, Severity::Error, message);
    }

    /// Where the entry `value` of the list `key` is, else where `key` is.
    fn entry(&self, file: usize, key: &str, value: &str, from: usize) -> Pos {
        let text = &self.sources[file].1;
        locate::entry(text, key, value, from)
            .or_else(|| locate::find(text, key, Some(value), from))
            .unwrap_or_else(|| self.find(file, key, None, from))
    }

    fn find(&self, file: usize, key: &str, value: Option<&str>, from: usize) -> Pos {
        locate::find(&self.sources[file].1, key, value, from).unwrap_or(Pos {
            line: from.max(1),
            col: 1,
        })
    }
}

fn verdict(
    spec: &VerdictSpec,
    ladder: &Ladder,
) -> Result<Verdict, (&'static str, Option<String>, String)> {
    let n = usize::from(spec.allow) + usize::from(spec.deny) + usize::from(spec.require.is_some());
    if n != 1 {
        return Err((
            "",
            None,
            "needs exactly one of `allow: true`, `deny: true` or `require: <level>`".into(),
        ));
    }
    if (spec.revoke || spec.alert) && !spec.deny {
        return Err(("revoke", None, "`revoke` and `alert` go with `deny`".into()));
    }
    if spec.max_age.is_some() && spec.require.is_none() {
        return Err(("max_age", None, "`max_age` goes with `require`".into()));
    }
    Ok(match &spec.require {
        Some(name) => Verdict::Require {
            level: ladder.by_name(name).ok_or_else(|| {
                let known: Vec<&str> = ladder.levels.iter().map(|l| l.name.as_str()).collect();
                (
                    "require",
                    Some(name.clone()),
                    format!(
                        "unknown level {name:?}: expected one of {}",
                        known.join(", ")
                    ),
                )
            })?,
            max_age: spec.max_age.map(|d| d.secs()),
        },
        None if spec.deny => Verdict::Deny {
            revoke: spec.revoke,
            alert: spec.alert,
        },
        None => Verdict::Allow,
    })
}

fn list_entries(
    src: &ListSource,
    base: &Path,
    read: ReadFn<'_>,
    hasher: &mut Sha256,
) -> Result<Vec<(usize, String)>, String> {
    match src {
        ListSource::Inline(v) => Ok(v.iter().map(|s| (0, s.0.clone())).collect()),
        ListSource::File { file } => {
            let path = base.join(file);
            let bytes = read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            hasher.update(&bytes);
            let text = String::from_utf8_lossy(&bytes);
            Ok(text
                .lines()
                .enumerate()
                .filter_map(|(i, l)| {
                    let l = l.split('#').next().unwrap_or("").trim();
                    (!l.is_empty()).then(|| (i + 1, l.to_owned()))
                })
                .collect())
        }
    }
}

/// Loads a policy set from `(path, text)` sources. Returns the policy when
/// there is no error, and every diagnostic (errors and warnings) found.
pub fn load_sources(
    sources: &[(PathBuf, String)],
    read: ReadFn<'_>,
) -> (Option<Policy>, Vec<Diagnostic>) {
    let mut cx = Ctx {
        sources,
        diags: Vec::new(),
    };
    let mut hasher = Sha256::new();
    let mut files: Vec<(usize, PolicyFile)> = Vec::new();
    for (i, (_, text)) in sources.iter().enumerate() {
        hasher.update(text.as_bytes());
        // A file with shape errors still contributes what parsed, so the
        // checks below report its other mistakes in the same run; the
        // errors keep the set from loading.
        let (f, errors) = super::parse::parse(text);
        for (pos, msg) in errors {
            cx.err(i, pos, msg);
        }
        files.push((i, f));
    }
    // Lists.
    let mut lists = Lists::default();
    let mut list_origin: HashMap<String, usize> = HashMap::new();
    for (fi, f) in &files {
        let base = sources[*fi]
            .0
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let groups = [
            ("networks", &f.lists.networks),
            ("asns", &f.lists.asns),
            ("countries", &f.lists.countries),
        ];
        for (kind, map) in groups {
            for (name, src) in map {
                let pos = cx.find(*fi, name, None, 1);
                if list_origin.insert(name.clone(), *fi).is_some() {
                    cx.err(*fi, pos, format!("list {name:?} is defined twice"));
                    continue;
                }
                let entries = match list_entries(src, &base, read, &mut hasher) {
                    Ok(e) => e,
                    Err(m) => {
                        cx.err(*fi, pos, format!("list {name:?}: {m}"));
                        continue;
                    }
                };
                for (line, entry) in entries {
                    let form = match kind {
                        "networks" => crate::cidr::Cidr::parse(&entry)
                            .map(|c| lists.networks.entry(name.clone()).or_default().push(c))
                            .ok_or_else(|| NETWORK_FORM.to_owned()),
                        "asns" => parse_asn(&entry)
                            .map(|a| lists.asns.entry(name.clone()).or_default().push(a))
                            .ok_or_else(|| ASN_FORM.to_owned()),
                        _ => is_country(&entry)
                            .then(|| {
                                lists
                                    .countries
                                    .entry(name.clone())
                                    .or_default()
                                    .push(entry.clone())
                            })
                            .ok_or_else(|| country_form(&entry)),
                    };
                    let Err(form) = form else { continue };
                    let message = format!("list {name:?}: bad {kind} entry {entry:?}: {form}");
                    match src {
                        // A list file's entry is reported in that file, at its line.
                        ListSource::File { file } => cx.diags.push(Diagnostic {
                            file: base.join(file),
                            line,
                            col: 1,
                            severity: Severity::Error,
                            message,
                        }),
                        ListSource::Inline(_) => {
                            let p = cx.entry(*fi, name, &entry, pos.line);
                            cx.err(*fi, p, message);
                        }
                    }
                }
                // An empty list still exists.
                match kind {
                    "networks" => {
                        lists.networks.entry(name.clone()).or_default();
                    }
                    "asns" => {
                        lists.asns.entry(name.clone()).or_default();
                    }
                    _ => {
                        lists.countries.entry(name.clone()).or_default();
                    }
                }
            }
        }
    }
    // Sections written once.
    let once =
        |key: &str, present: &dyn Fn(&PolicyFile) -> bool, cx: &mut Ctx<'_>| -> Option<usize> {
            let mut first = None;
            for (fi, f) in &files {
                if present(f) {
                    if first.is_some() {
                        let pos = locate::section(&sources[*fi].1, key).unwrap_or_default();
                        cx.err(
                            *fi,
                            pos,
                            format!(
                                "`{key}` is already set in {}",
                                sources[first.unwrap_or(0)].0.display()
                            ),
                        );
                    } else {
                        first = Some(*fi);
                    }
                }
            }
            first
        };
    let levels_file = once("levels", &|f| f.levels.is_some(), &mut cx);
    let bands_file = once("bands", &|f| f.bands.is_some(), &mut cx);
    let risk_file = once("risk", &|f| f.risk.is_some(), &mut cx);
    let get =
        |fi: Option<usize>| fi.and_then(|i| files.iter().find(|(j, _)| *j == i).map(|(_, f)| f));
    // Ladder.
    let ladder = match get(levels_file).and_then(|f| f.levels.as_ref()) {
        None => default_ladder(),
        Some(specs) => {
            let fi = levels_file.unwrap_or(0);
            let mut levels: Vec<Level> = Vec::new();
            let mut from = 1;
            for s in specs {
                let pos = cx.find(fi, "name", Some(&s.name), from);
                from = pos.line + 1;
                let acr = s.acr.clone().unwrap_or_else(|| s.name.clone());
                if levels.iter().any(|l| l.name == s.name || l.acr == acr) {
                    cx.err(
                        fi,
                        pos,
                        format!("level {:?} (acr {acr:?}) is defined twice", s.name),
                    );
                }
                if s.factors.is_empty() || s.factors.iter().any(|c| c.is_empty()) {
                    cx.err(
                        fi,
                        pos,
                        format!(
                            "level {:?} needs at least one non-empty factor combination",
                            s.name
                        ),
                    );
                }
                if let Some(prev) = levels.last().filter(|p| p.max_age < s.max_age.secs()) {
                    let p = cx.find(fi, "max_age", None, pos.line);
                    cx.at(
                        fi,
                        p,
                        Severity::Warning,
                        format!(
                            "level {:?} lasts longer ({}) than the weaker {:?} ({})",
                            s.name,
                            s.max_age,
                            prev.name,
                            super::Duration(prev.max_age)
                        ),
                    );
                }
                levels.push(Level {
                    name: s.name.clone(),
                    acr,
                    combos: s.factors.iter().map(|c| FactorSet::of(c)).collect(),
                    max_age: s.max_age.secs(),
                });
            }
            if levels.is_empty() {
                let pos = locate::section(&sources[fi].1, "levels").unwrap_or_default();
                cx.err(fi, pos, "`levels` needs at least one level".into());
                default_ladder()
            } else {
                Ladder { levels }
            }
        }
    };
    // Risk parameters.
    let mut thresholds = get(risk_file)
        .and_then(|f| f.risk.clone())
        .unwrap_or_default();
    let risk_fi = risk_file.unwrap_or(0);
    if thresholds.allow_max > thresholds.step_up_max || thresholds.step_up_max > 100 {
        let pos = cx.find(risk_fi, "allow_max", None, 1);
        cx.err(
            risk_fi,
            pos,
            format!(
                "thresholds out of order: need allow_max ≤ step_up_max ≤ 100, got {} and {}",
                thresholds.allow_max, thresholds.step_up_max
            ),
        );
    }
    if !(thresholds.impossible_travel_kmh > 0.0 && thresholds.travel_min_km >= 0.0) {
        let pos = cx.find(risk_fi, "impossible_travel_kmh", None, 1);
        cx.err(risk_fi, pos, "travel thresholds must be positive".into());
    }
    if let Some(problem) = thresholds.lockout.as_ref().and_then(|l| l.problem()) {
        let pos = cx.find(risk_fi, "lockout", None, 1);
        cx.err(risk_fi, pos, problem.into());
    }
    if let Some(problem) = thresholds.sensitive.problem() {
        let pos = cx.find(risk_fi, "sensitive", None, 1);
        cx.err(risk_fi, pos, problem.into());
    }
    let risk_base = sources
        .get(risk_fi)
        .and_then(|s| s.0.parent())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    for f in thresholds
        .hosting_asn_files
        .iter()
        .chain(&thresholds.anonymizing_asn_files)
    {
        if let Ok(bytes) = read(&risk_base.join(f)) {
            hasher.update(&bytes);
        }
    }
    let network_lists = match thresholds.network_lists(&risk_base) {
        Ok(l) => l,
        Err(e) => {
            let pos = locate::section(sources.get(risk_fi).map_or("", |s| s.1.as_str()), "risk")
                .unwrap_or_default();
            cx.err(risk_fi, pos, e.to_string());
            crate::geo::NetworkLists::default()
        }
    };
    // Bands.
    let bands = match get(bands_file).and_then(|f| f.bands.as_ref()) {
        None => {
            let step = ladder
                .by_name("aal2")
                .unwrap_or(ladder.levels.len().min(2).saturating_sub(1));
            vec![
                Band {
                    up_to: thresholds.allow_max,
                    effect: Effect {
                        verdict: Verdict::Allow,
                        notify: vec![],
                    },
                },
                Band {
                    up_to: thresholds.step_up_max,
                    effect: Effect {
                        verdict: Verdict::Require {
                            level: step,
                            max_age: None,
                        },
                        notify: vec![],
                    },
                },
                Band {
                    up_to: 100,
                    effect: Effect {
                        verdict: Verdict::Deny {
                            revoke: true,
                            alert: true,
                        },
                        notify: vec![],
                    },
                },
            ]
        }
        Some(specs) => {
            let fi = bands_file.unwrap_or(0);
            let mut out: Vec<Band> = Vec::new();
            let mut from = 1;
            for b in specs {
                let pos = cx.find(fi, "up_to", Some(&b.up_to.to_string()), from);
                from = pos.line + 1;
                if b.up_to > 100 {
                    cx.err(fi, pos, format!("band up_to {} is above 100", b.up_to));
                }
                if let Some(prev) = out.last().filter(|p| p.up_to >= b.up_to) {
                    cx.err(
                        fi,
                        pos,
                        format!(
                            "thresholds out of order: band up_to {} does not follow {}",
                            b.up_to, prev.up_to
                        ),
                    );
                }
                match verdict(&b.verdict(), &ladder) {
                    Ok(v) => out.push(Band {
                        up_to: b.up_to,
                        effect: Effect {
                            verdict: v,
                            notify: b.notify.clone(),
                        },
                    }),
                    Err((key, value, msg)) => {
                        let p = if key.is_empty() {
                            pos
                        } else {
                            cx.find(fi, key, value.as_deref(), pos.line)
                        };
                        cx.err(fi, p, format!("band up to {}: {msg}", b.up_to));
                    }
                }
            }
            match out.last() {
                Some(last) if last.up_to == 100 => {}
                _ => {
                    let pos = locate::section(&sources[fi].1, "bands").unwrap_or_default();
                    cx.err(fi, pos, "the last band must reach up_to: 100".into());
                }
            }
            // Keep the scorer's own bands in step with the policy's.
            let allow_max = out
                .iter()
                .take_while(|b| b.effect.verdict == Verdict::Allow)
                .last()
                .map_or(0, |b| b.up_to);
            let step_up_max = out
                .iter()
                .take_while(|b| !matches!(b.effect.verdict, Verdict::Deny { .. }))
                .last()
                .map_or(allow_max, |b| b.up_to);
            thresholds.allow_max = allow_max;
            thresholds.step_up_max = step_up_max.max(allow_max);
            out
        }
    };
    // Rules.
    let mut rules: Vec<Rule> = Vec::new();
    // Every rule's name and place, compiled or not: a name is taken even
    // by a rule with another mistake.
    let mut names: Vec<(&str, usize, Pos)> = Vec::new();
    for (fi, f) in &files {
        for (stage, key, specs) in [
            (Stage::Before, "rules_before", &f.rules_before),
            (Stage::After, "rules_after", &f.rules_after),
        ] {
            let mut from = locate::section(&sources[*fi].1, key).map_or(1, |p| p.line);
            for spec in specs {
                let (pos, rule) =
                    compile_rule(&mut cx, *fi, stage, spec, &ladder, &lists, &mut from);
                if let Some((_, pf, p)) = names.iter().find(|n| n.0 == spec.name) {
                    let file = if pf == fi {
                        String::new()
                    } else {
                        format!("{}:", sources[*pf].0.display())
                    };
                    cx.err(
                        *fi,
                        pos,
                        format!(
                            "rule {:?} is defined twice (first at line {file}{}:{})",
                            spec.name, p.line, p.col
                        ),
                    );
                }
                names.push((&spec.name, *fi, pos));
                rules.extend(rule);
            }
        }
    }
    let has_error = cx.diags.iter().any(|d| d.severity == Severity::Error);
    let digest = hasher.finalize();
    let mut version = String::with_capacity(71);
    version.push_str("sha256:");
    for b in digest.iter() {
        version.push_str(&format!("{b:02x}"));
    }
    let policy = (!has_error).then(|| Policy {
        ladder,
        bands,
        rules,
        thresholds,
        network_lists,
        lists,
        version: Arc::from(version),
        sources: sources.iter().map(|s| s.0.clone()).collect(),
    });
    (policy, cx.diags)
}

fn compile_rule(
    cx: &mut Ctx<'_>,
    fi: usize,
    stage: Stage,
    spec: &RuleSpec,
    ladder: &Ladder,
    lists: &Lists,
    from: &mut usize,
) -> (Pos, Option<Rule>) {
    let pos = cx.find(fi, "name", Some(&spec.name), *from);
    *from = pos.line + 1;
    (pos, compile_at(cx, fi, pos, stage, spec, ladder, lists))
}

/// The rule written at `pos`, or `None` with its every mistake reported.
fn compile_at(
    cx: &mut Ctx<'_>,
    fi: usize,
    pos: Pos,
    stage: Stage,
    spec: &RuleSpec,
    ladder: &Ladder,
    lists: &Lists,
) -> Option<Rule> {
    let v = match verdict(&spec.verdict(), ladder) {
        Ok(v) => Some(v),
        Err((key, value, msg)) => {
            let p = if key.is_empty() {
                pos
            } else {
                cx.find(fi, key, value.as_deref(), pos.line)
            };
            cx.err(fi, p, format!("rule {:?}: {msg}", spec.name));
            None
        }
    };
    let cond = match Cond::compile(&spec.when, lists) {
        Ok(c) => Some(c),
        Err(errs) => {
            for (key, value, msg) in errs {
                let p = cx.entry(fi, key, &value, pos.line);
                cx.err(fi, p, format!("rule {:?}: {msg}", spec.name));
            }
            None
        }
    };
    let mut reasons_ok = true;
    let known = known_reason_codes();
    for code in &spec.when.reasons {
        if !known.contains(&code.as_str()) {
            reasons_ok = false;
            let p = cx.entry(fi, "reasons", code, pos.line);
            cx.err(
                fi,
                p,
                format!(
                    "rule {:?}: unknown risk reason {code:?}: expected one of {} (docs/risk.md)",
                    spec.name,
                    known.join(", ")
                ),
            );
        }
    }
    if !reasons_ok {
        return None;
    }
    let (verdict, cond) = (v?, cond?);
    Some(Rule {
        name: spec.name.clone(),
        description: spec
            .description
            .clone()
            .unwrap_or_else(|| spec.name.clone()),
        stage,
        cond,
        effect: Effect {
            verdict,
            notify: spec.notify.clone(),
        },
        origin: Origin { file: fi, pos },
    })
}
