//! The what-if report as one self-contained HTML page: inline CSS and SVG
//! charts (score histogram with both policies' band thresholds, decision
//! mix before and after, top changed users), no scripts, no external assets.

use std::fmt::Write;

use super::whatif::WhatIfReport;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A generous width for `text` at `size` px (0.7 em a character, wider
/// than system-ui's average glyph): boxes sized from it never cut a caption.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.7
}

/// One colour per decision label of the report: allow green, deny red, and
/// each step-up level its own, in the order the labels are listed. A fixed
/// palette of well-separated colours first; past it, evenly spaced hues,
/// so two levels never share a colour however long the ladder.
struct Colours(Vec<(String, String)>);

impl Colours {
    fn of(labels: &[&String]) -> Colours {
        const STEPS: [&str; 6] = [
            "#f2c14e", "#f08a4b", "#8e6bbf", "#3f7fbf", "#d96c9a", "#8d6e63",
        ];
        let steps: Vec<&&String> = labels
            .iter()
            .filter(|l| !matches!(l.as_str(), "allow" | "deny"))
            .collect();
        let extra = steps.len().saturating_sub(STEPS.len()).max(1) as f64;
        let mut out = vec![
            ("allow".to_owned(), "#4caf7a".to_owned()),
            ("deny".to_owned(), "#c0392b".to_owned()),
        ];
        for (i, l) in steps.iter().enumerate() {
            let c = match STEPS.get(i) {
                Some(c) => (*c).to_owned(),
                None => format!(
                    "hsl({:.1}, 55%, 45%)",
                    (i - STEPS.len()) as f64 * 360.0 / extra
                ),
            };
            out.push(((**l).clone(), c));
        }
        Colours(out)
    }

    fn get(&self, label: &str) -> &str {
        self.0
            .iter()
            .find(|(l, _)| l == label)
            .map_or("#999", |(_, c)| c.as_str())
    }
}

/// Histogram of decided scores, log-scaled, with the band edges drawn.
/// Each band caption sits on the first caption line where it does not run
/// into the one before, and turns to the left of its edge near the right
/// end, so every caption is whole and readable.
fn histogram(r: &WhatIfReport) -> String {
    let (w, left, bottom, size) = (760.0, 50.0, 30.0, 10.0);
    let bw = (w - left - 10.0) / 101.0;
    // (x, anchor end?, caption line, text, colour, dash)
    let mut captions: Vec<(f64, bool, usize, String, &str, &str)> = Vec::new();
    let mut line_ends: Vec<f64> = Vec::new();
    for (bands, stroke, dash) in [
        (&r.baseline.bands, "#777", "4 3"),
        (&r.candidate.bands, "#c0392b", ""),
    ] {
        for (up_to, what) in bands.iter().filter(|b| b.0 < 100) {
            let x = left + (f64::from(*up_to) + 1.0) * bw;
            let text = format!("≤{up_to}: {what}");
            let tw = text_width(&text, size);
            let end_anchor = x + 3.0 + tw > w;
            let (from, to) = if end_anchor {
                (x - 3.0 - tw, x - 3.0)
            } else {
                (x + 3.0, x + 3.0 + tw)
            };
            let line = match line_ends.iter().position(|e| *e + 4.0 <= from) {
                Some(i) => i,
                None => {
                    line_ends.push(f64::MIN);
                    line_ends.len() - 1
                }
            };
            line_ends[line] = to;
            captions.push((x, end_anchor, line, text, stroke, dash));
        }
    }
    let top = 12.0 * line_ends.len() as f64 + 8.0;
    let plot = 200.0;
    let h = top + plot + bottom;
    let max = r.histogram.iter().copied().max().unwrap_or(0).max(1) as f64;
    let scale = |n: usize| {
        if n == 0 {
            0.0
        } else {
            (1.0 + n as f64).ln() / (1.0 + max).ln()
        }
    };
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="score histogram">"#
    );
    for (score, &n) in r.histogram.iter().enumerate() {
        let bh = scale(n) * plot;
        let x = left + score as f64 * bw;
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#5b8def"><title>score {score}: {n}</title></rect>"##,
            top + plot - bh,
            (bw - 0.5).max(0.5)
        );
    }
    for (x, end_anchor, line, text, stroke, dash) in &captions {
        let y = 12.0 * (*line as f64 + 1.0);
        let (tx, anchor) = if *end_anchor {
            (x - 3.0, "end")
        } else {
            (x + 3.0, "start")
        };
        let _ = write!(
            s,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{stroke}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{tx:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}" fill="{stroke}">{}</text>"#,
            y - 10.0,
            top + plot,
            esc(text)
        );
    }
    for t in (0..=100).step_by(10) {
        let x = left + f64::from(t) * bw;
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" font-size="{size}" text-anchor="middle">{t}</text>"#,
            h - 12.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="4" y="{top:.1}" font-size="{size}">{} max</text><text x="{:.1}" y="{h}" font-size="{size}" text-anchor="middle">risk score (log-scaled counts; grey dashed: baseline bands, red: candidate)</text></svg>"#,
        max as usize,
        left + (w - left) / 2.0
    );
    s
}

/// Two stacked bars: the decision mix before and after, and a legend that
/// wraps onto as many rows as its labels need.
fn mix(r: &WhatIfReport) -> String {
    let (w, left) = (760.0, 90.0);
    let mut labels: Vec<&String> = r
        .baseline
        .decisions
        .keys()
        .chain(r.candidate.decisions.keys())
        .collect();
    labels.sort_by_key(|l| (l.as_str() != "allow", l.as_str() == "deny", l.to_string()));
    labels.dedup();
    let colours = Colours::of(&labels);
    let total = r.decided.max(1) as f64;
    let mut legend = String::new();
    let (mut x, mut y) = (left, 98.0);
    for l in &labels {
        let item = 16.0 + text_width(l, 11.0) + 14.0;
        if x > left && x + item > w {
            (x, y) = (left, y + 18.0);
        }
        let _ = write!(
            legend,
            r#"<rect x="{x:.1}" y="{y}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            colours.get(l),
            x + 16.0,
            y + 10.0,
            esc(l)
        );
        x += item;
    }
    let h = y + 22.0;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="decision mix">"#
    );
    for (row, (name, side)) in [("baseline", &r.baseline), ("candidate", &r.candidate)]
        .iter()
        .enumerate()
    {
        let y = 10.0 + row as f64 * 40.0;
        let _ = write!(
            s,
            r#"<text x="0" y="{:.1}" font-size="12">{name}</text>"#,
            y + 18.0
        );
        let mut x = left;
        for l in &labels {
            let n = side.decisions.get(*l).copied().unwrap_or(0);
            let bw = n as f64 / total * (w - left - 10.0);
            if bw > 0.0 {
                let _ = write!(
                    s,
                    r#"<rect x="{x:.1}" y="{y}" width="{bw:.1}" height="28" fill="{}"><title>{}: {n} ({:.1} %)</title></rect>"#,
                    colours.get(l),
                    esc(l),
                    100.0 * n as f64 / total
                );
            }
            x += bw;
        }
    }
    s.push_str(&legend);
    s.push_str("</svg>");
    s
}

/// Horizontal bars: the users with the most changed decisions. The name
/// column is as wide as the longest name and the picture as wide as the
/// longest caption after its bar.
fn top_users(r: &WhatIfReport) -> String {
    if r.top_users.is_empty() {
        return "<p>No user's decisions change.</p>".into();
    }
    let row = 22.0;
    let caption =
        |u: &super::whatif::UserChange| format!("{} of {} · {}", u.changed, u.events, u.typical);
    let longest = |f: &dyn Fn(&super::whatif::UserChange) -> f64| {
        r.top_users.iter().map(f).fold(0.0, f64::max)
    };
    let left = longest(&|u| text_width(&u.user, 12.0)).max(140.0) + 10.0;
    let bars = 350.0;
    let w = (left + bars + 4.0 + longest(&|u| text_width(&caption(u), 11.0)) + 6.0).max(760.0);
    let h = row * r.top_users.len() as f64 + 10.0;
    let max = r
        .top_users
        .iter()
        .map(|u| u.changed)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w:.1} {h}" width="{w:.1}" height="{h}" role="img" aria-label="top changed users">"#
    );
    for (i, u) in r.top_users.iter().enumerate() {
        let y = 5.0 + i as f64 * row;
        let bw = u.changed as f64 / max * bars;
        let fill = if u.stricter * 2 >= u.changed {
            "#c0392b"
        } else {
            "#4caf7a"
        };
        let _ = write!(
            s,
            r#"<text x="0" y="{:.1}" font-size="12">{}</text><rect x="{left:.1}" y="{y}" width="{bw:.1}" height="16" fill="{fill}"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
            y + 12.0,
            esc(&u.user),
            left + bw + 4.0,
            y + 12.0,
            esc(&caption(u))
        );
    }
    s.push_str("</svg>");
    s
}

fn rows<'a>(head: &[&str], body: impl Iterator<Item = Vec<String>> + 'a) -> String {
    let mut s = String::from("<table><tr>");
    for h in head {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>");
    for r in body {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{}</td>", esc(&c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

/// The whole report as a self-contained HTML page.
pub fn html(r: &WhatIfReport) -> String {
    let mut s = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Tollgate what-if report</title><style>body{font:14px system-ui,sans-serif;margin:2em auto;max-width:800px;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}td:nth-child(n+2){text-align:right}code{font-size:12px}svg{max-width:100%;height:auto}.big{font-size:1.3em;font-weight:600}</style></head><body>",
    );
    let _ = write!(
        s,
        "<h1>What-if: candidate policy against baseline</h1><p>baseline <code>{}</code><br>candidate <code>{}</code></p>",
        esc(&r.baseline.version),
        esc(&r.candidate.version)
    );
    let share = if r.decided == 0 {
        0.0
    } else {
        100.0 * r.changed as f64 / r.decided as f64
    };
    let _ = write!(
        s,
        "<p class=\"big\">{} of {} decisions change ({share:.1} %): {} stricter, {} looser; {} of {} users affected.</p><p>{} events replayed; {} failed logins are not decided.</p>",
        r.changed, r.decided, r.stricter, r.looser, r.users_affected, r.users, r.events, r.failed
    );
    s.push_str("<h2>Risk scores</h2>");
    s.push_str(&histogram(r));
    s.push_str("<h2>Decision mix</h2>");
    s.push_str(&mix(r));
    s.push_str(&rows(
        &["decision", "baseline", "candidate"],
        r.decision_rows()
            .into_iter()
            .map(|(l, b, c)| vec![l, b.to_string(), c.to_string()]),
    ));
    s.push_str("<h2>Changes</h2>");
    s.push_str(&rows(
        &["baseline → candidate", "events"],
        r.transitions
            .iter()
            .map(|t| vec![format!("{} → {}", t.from, t.to), t.count.to_string()]),
    ));
    s.push_str("<h2>Top changed users</h2>");
    s.push_str(&top_users(r));
    s.push_str("<h2>Clients affected</h2>");
    s.push_str(&rows(
        &["client", "changed"],
        r.clients_affected
            .iter()
            .map(|(c, n)| vec![c.clone(), n.to_string()]),
    ));
    s.push_str("<h2>Rules fired</h2>");
    s.push_str(&rows(
        &["rule", "baseline", "candidate"],
        r.rule_rows()
            .into_iter()
            .map(|(l, b, c)| vec![l, b.to_string(), c.to_string()]),
    ));
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::whatif::{Side, UserChange};
    use std::collections::{BTreeMap, BTreeSet};

    /// `name="value"` of one tag's text.
    fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
        let pat = format!("{name}=\"");
        let at = tag
            .match_indices(&pat)
            .find(|(i, _)| *i == 0 || tag[..*i].ends_with(' '))?
            .0;
        tag[at + pat.len()..].split('"').next()
    }

    /// Every `<svg>` as (width, height, [(x, y, size, anchor, text)]).
    type Texts = Vec<(f64, f64, f64, String, String)>;
    fn svgs(page: &str) -> Vec<(f64, f64, Texts)> {
        let num = |s: Option<&str>| s.and_then(|s| s.parse::<f64>().ok()).unwrap();
        page.split("<svg ")
            .skip(1)
            .map(|svg| {
                let svg = svg.split("</svg>").next().unwrap();
                let view: Vec<f64> = attr(svg, "viewBox")
                    .unwrap()
                    .split(' ')
                    .map(|n| n.parse().unwrap())
                    .collect();
                let texts = svg
                    .split("<text")
                    .skip(1)
                    .map(|t| {
                        let (tag, rest) = t.split_once('>').unwrap();
                        let body = rest.split("</text>").next().unwrap();
                        let anchor = attr(tag, "text-anchor").unwrap_or("start").to_owned();
                        let text = body
                            .replace("&amp;", "&")
                            .replace("&lt;", "<")
                            .replace("&gt;", ">");
                        (
                            num(attr(tag, "x")),
                            num(attr(tag, "y")),
                            num(attr(tag, "font-size")),
                            anchor,
                            text,
                        )
                    })
                    .collect();
                (view[2], view[3], texts)
            })
            .collect()
    }

    fn report() -> WhatIfReport {
        let levels = [
            "allow",
            "step_up:aal1",
            "step_up:aal2",
            "step_up:aal3",
            "step_up:phr",
            "step_up:phrh",
            "step_up:phrh-contractors",
            "step_up:x9",
            "deny",
        ];
        let decisions: BTreeMap<String, usize> =
            levels.iter().map(|l| (l.to_string(), 10)).collect();
        let bands = |b: &[(u8, &str)]| b.iter().map(|(u, w)| (*u, w.to_string())).collect();
        WhatIfReport {
            decided: 90,
            baseline: Side {
                decisions: decisions.clone(),
                bands: bands(&[(30, "allow"), (70, "step up: aal2"), (100, "deny")]),
                ..Side::default()
            },
            candidate: Side {
                decisions,
                bands: bands(&[
                    (10, "allow"),
                    (12, "step up: aal2"),
                    (14, "step up: phr"),
                    (95, "step up: phrh-contractors"),
                    (100, "deny"),
                ]),
                ..Side::default()
            },
            top_users: vec![UserChange {
                user: "a.very.long.login.name@corp.example.com".into(),
                events: 40,
                changed: 40,
                stricter: 40,
                typical: "step_up:aal2 → step_up:phrh-contractors".into(),
            }],
            histogram: vec![1; 101],
            ..WhatIfReport::default()
        }
    }

    /// Each decision label has one colour, in the bars and the legend
    /// alike, and no two labels share one.
    #[test]
    fn every_level_has_its_own_colour() {
        let r = report();
        let page = html(&r);
        let mix = page.split("aria-label=\"decision mix\">").nth(1).unwrap();
        let mix = mix.split("</svg>").next().unwrap();
        let mut by_label: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for rect in mix.split("<rect").skip(1) {
            let tag = rect.split('>').next().unwrap();
            let Some(fill) = attr(tag, "fill") else {
                continue;
            };
            // A bar: <rect …><title>label: n (…)</title>; a legend swatch: <rect …/><text …>label</text>.
            let label = if let Some(t) = rect
                .strip_prefix(tag)
                .and_then(|r| r.strip_prefix("><title>"))
            {
                t.split(": ").next().unwrap().to_owned()
            } else if let Some(t) = rect.split("<text").nth(1).filter(|_| tag.ends_with('/')) {
                t.split_once('>')
                    .unwrap()
                    .1
                    .split("</text>")
                    .next()
                    .unwrap()
                    .to_owned()
            } else {
                continue;
            };
            if label.starts_with("score ") {
                continue;
            }
            by_label.entry(label).or_default().insert(fill.to_owned());
        }
        let want: BTreeSet<&str> = r.baseline.decisions.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            by_label.keys().map(|k| k.as_str()).collect::<BTreeSet<_>>(),
            want
        );
        let mut seen = BTreeSet::new();
        for (label, fills) in &by_label {
            assert_eq!(fills.len(), 1, "{label} is drawn in {fills:?}");
            let fill = fills.iter().next().unwrap();
            assert!(
                seen.insert(fill.clone()),
                "{label} shares {fill} with another level"
            );
        }
    }

    /// Every caption is whole: its text is there in full, it lies inside
    /// its picture, and no two captions on one line run into each other
    /// (widths at 0.65 em a character, about system-ui's widest average).
    #[test]
    fn captions_are_never_clipped() {
        let r = report();
        let page = html(&r);
        for whole in [
            "≤95: step up: phrh-contractors",
            "≤12: step up: aal2",
            "a.very.long.login.name@corp.example.com",
            "40 of 40 · step_up:aal2 → step_up:phrh-contractors",
            "step_up:phrh-contractors",
        ] {
            assert!(page.contains(&format!(">{}</text>", esc(whole))), "{whole}");
        }
        for (w, h, texts) in svgs(&page) {
            let span = |(x, _, size, anchor, text): &(f64, f64, f64, String, String)| {
                let tw = text.chars().count() as f64 * size * 0.65;
                match anchor.as_str() {
                    "end" => (x - tw, *x),
                    "middle" => (x - tw / 2.0, x + tw / 2.0),
                    _ => (*x, x + tw),
                }
            };
            for t in &texts {
                let (a, b) = span(t);
                assert!(
                    a >= 0.0 && b <= w && t.1 - t.2 >= 0.0 && t.1 <= h,
                    "{t:?} outside {w}×{h}"
                );
            }
            for (i, t) in texts.iter().enumerate() {
                for u in texts[i + 1..].iter().filter(|u| u.1 == t.1) {
                    let ((a, b), (c, d)) = (span(t), span(u));
                    assert!(b <= c || d <= a, "{t:?} runs into {u:?}");
                }
            }
        }
    }
}
