//! Login events, one JSON object per line (`tollgate_risk::event`): what
//! `tollgate risk score|eval|train` and the what-if tool read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_risk::event::{LoginEvent, parse_lines};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ev) = LoginEvent::parse(text, 1) {
        // An event written back reads as the same event (the replay tools
        // write what they read).
        let line = serde_json::to_string(&ev).expect("a parsed event serialises");
        assert!(!line.contains('\n'));
        assert_eq!(LoginEvent::parse(&line, 1).expect("reparses"), ev);
    }
    let lenient = parse_lines(text, false).expect("lenient parsing never fails");
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(lenient.events.len() + lenient.errors.len(), lines);
    assert!(lenient.events.windows(2).all(|w| w[0].0 < w[1].0));
    // Strict parsing fails exactly when a line is malformed.
    assert_eq!(parse_lines(text, true).is_ok(), lenient.errors.is_empty());
});
