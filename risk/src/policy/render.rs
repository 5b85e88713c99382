//! Rendering a [`WhatIfReport`]: a terminal table here, the HTML report in
//! [`super::html`].

use std::fmt::Write;

use super::whatif::WhatIfReport;

fn pct(n: usize, total: usize) -> String {
    if total == 0 {
        "0.0 %".into()
    } else {
        format!("{:.1} %", 100.0 * n as f64 / total as f64)
    }
}

/// The report as plain text for a terminal.
pub fn table(r: &WhatIfReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "baseline  {}", r.baseline.version);
    let _ = writeln!(s, "candidate {}", r.candidate.version);
    let _ = writeln!(
        s,
        "{} events: {} successful logins decided, {} failed (not decided), {} users",
        r.events, r.decided, r.failed, r.users
    );
    let _ = writeln!(
        s,
        "changed: {} decisions ({}), {} stricter, {} looser; {} users affected",
        r.changed,
        pct(r.changed, r.decided),
        r.stricter,
        r.looser,
        r.users_affected
    );
    let _ = writeln!(
        s,
        "\n{:<24} {:>10} {:>9} {:>10} {:>9}",
        "decision", "baseline", "", "candidate", ""
    );
    for (l, b, c) in r.decision_rows() {
        let _ = writeln!(
            s,
            "{l:<24} {b:>10} {:>9} {c:>10} {:>9}",
            pct(b, r.decided),
            pct(c, r.decided)
        );
    }
    if !r.transitions.is_empty() {
        let _ = writeln!(
            s,
            "\n{:<40} {:>10}",
            "change (baseline → candidate)", "events"
        );
        for t in &r.transitions {
            let _ = writeln!(
                s,
                "{:<40} {:>10}",
                format!("{} → {}", t.from, t.to),
                t.count
            );
        }
    }
    let rules = r.rule_rows();
    if !rules.is_empty() {
        let _ = writeln!(
            s,
            "\n{:<40} {:>10} {:>10}",
            "rule fired", "baseline", "candidate"
        );
        for (rule, b, c) in rules {
            let _ = writeln!(s, "{rule:<40} {b:>10} {c:>10}");
        }
    }
    if !r.clients_affected.is_empty() {
        let _ = writeln!(s, "\n{:<40} {:>10}", "client", "changed");
        for (c, n) in &r.clients_affected {
            let _ = writeln!(s, "{c:<40} {n:>10}");
        }
    }
    if !r.top_users.is_empty() {
        let _ = writeln!(
            s,
            "\n{:<24} {:>8} {:>8}  typical change",
            "user", "changed", "of"
        );
        for u in &r.top_users {
            let _ = writeln!(
                s,
                "{:<24} {:>8} {:>8}  {}",
                u.user, u.changed, u.events, u.typical
            );
        }
    }
    s
}
