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

fn color(label: &str) -> &'static str {
    const STEPS: [&str; 4] = ["#f2c14e", "#f08a4b", "#d96c9a", "#8e6bbf"];
    match label {
        "allow" => "#4caf7a",
        "deny" => "#c0392b",
        l => {
            let h = l.bytes().fold(0usize, |a, b| {
                a.wrapping_mul(31).wrapping_add(usize::from(b))
            });
            STEPS[h % STEPS.len()]
        }
    }
}

/// Histogram of decided scores, log-scaled, with the band edges drawn.
fn histogram(r: &WhatIfReport) -> String {
    let (w, h, left, bottom) = (760.0, 240.0, 50.0, 30.0);
    let max = r.histogram.iter().copied().max().unwrap_or(0).max(1) as f64;
    let scale = |n: usize| {
        if n == 0 {
            0.0
        } else {
            (1.0 + n as f64).ln() / (1.0 + max).ln()
        }
    };
    let bw = (w - left - 10.0) / 101.0;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="score histogram">"#
    );
    for (score, &n) in r.histogram.iter().enumerate() {
        let bh = scale(n) * (h - bottom - 20.0);
        let x = left + score as f64 * bw;
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#5b8def"><title>score {score}: {n}</title></rect>"##,
            h - bottom - bh,
            (bw - 0.5).max(0.5)
        );
    }
    let mut edges = |bands: &[(u8, String)], stroke: &str, dash: &str, dy: f64| {
        for (up_to, what) in bands.iter().filter(|b| b.0 < 100) {
            let x = left + (f64::from(*up_to) + 1.0) * bw;
            let _ = write!(
                s,
                r#"<line x1="{x:.1}" y1="12" x2="{x:.1}" y2="{:.1}" stroke="{stroke}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{dy}" font-size="10" fill="{stroke}">≤{up_to}: {}</text>"#,
                h - bottom,
                x + 3.0,
                esc(what)
            );
        }
    };
    edges(&r.baseline.bands, "#777", "4 3", 12.0);
    edges(&r.candidate.bands, "#c0392b", "", 24.0);
    for t in (0..=100).step_by(10) {
        let x = left + f64::from(t) * bw;
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle">{t}</text>"#,
            h - 12.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="4" y="{:.1}" font-size="10">{} max</text><text x="{:.1}" y="{h}" font-size="10" text-anchor="middle">risk score (log-scaled counts; grey dashed: baseline bands, red: candidate)</text></svg>"#,
        h - bottom - (h - bottom - 20.0),
        max as usize,
        left + (w - left) / 2.0
    );
    s
}

/// Two stacked bars: the decision mix before and after.
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
    let total = r.decided.max(1) as f64;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} 130" width="{w}" height="130" role="img" aria-label="decision mix">"#
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
                    color(l),
                    esc(l),
                    100.0 * n as f64 / total
                );
            }
            x += bw;
        }
    }
    let mut x = left;
    for l in &labels {
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="98" width="12" height="12" fill="{}"/><text x="{:.1}" y="108" font-size="11">{}</text>"#,
            color(l),
            x + 16.0,
            esc(l)
        );
        x += 30.0 + 7.0 * l.len() as f64;
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars: the users with the most changed decisions.
fn top_users(r: &WhatIfReport) -> String {
    if r.top_users.is_empty() {
        return "<p>No user's decisions change.</p>".into();
    }
    let (w, left, row) = (760.0, 150.0, 22.0);
    let h = row * r.top_users.len() as f64 + 10.0;
    let max = r
        .top_users
        .iter()
        .map(|u| u.changed)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="top changed users">"#
    );
    for (i, u) in r.top_users.iter().enumerate() {
        let y = 5.0 + i as f64 * row;
        let bw = u.changed as f64 / max * (w - left - 260.0);
        let fill = if u.stricter * 2 >= u.changed {
            "#c0392b"
        } else {
            "#4caf7a"
        };
        let _ = write!(
            s,
            r#"<text x="0" y="{:.1}" font-size="12">{}</text><rect x="{left}" y="{y}" width="{bw:.1}" height="16" fill="{fill}"/><text x="{:.1}" y="{:.1}" font-size="11">{} of {} · {}</text>"#,
            y + 12.0,
            esc(&u.user),
            left + bw + 4.0,
            y + 12.0,
            u.changed,
            u.events,
            esc(&u.typical)
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
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Tollgate what-if report</title><style>body{font:14px system-ui,sans-serif;margin:2em auto;max-width:800px;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}td:nth-child(n+2){text-align:right}code{font-size:12px}.big{font-size:1.3em;font-weight:600}</style></head><body>",
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
