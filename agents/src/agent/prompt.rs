//! Reading the PIN and answers from the user. The PIN is read from the
//! controlling terminal with echo off (`stty -echo`, so no libc calls and
//! no unsafe code here), or from standard input with `--pin-stdin`.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};

use crate::secret::Pin;

fn stty(arg: &str) {
    if let Ok(tty) = std::fs::File::open("/dev/tty") {
        let _ = Command::new("stty")
            .arg(arg)
            .stdin(Stdio::from(tty))
            .status();
    }
}

/// Strips what PAM or a shell may append: a NUL terminator (pam_exec
/// `expose_authtok`), then a trailing newline.
pub fn clean_secret(raw: &[u8]) -> String {
    let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
    let s = String::from_utf8_lossy(raw);
    s.trim_end_matches(['\n', '\r']).to_owned()
}

/// Reads one line from standard input as the PIN.
pub fn pin_from_stdin() -> std::io::Result<Pin> {
    let mut line = Vec::new();
    std::io::stdin().lock().read_until(b'\n', &mut line)?;
    let pin = Pin::new(clean_secret(&line));
    zeroize::Zeroize::zeroize(&mut line);
    Ok(pin)
}

/// Prompts on the terminal with echo off.
pub fn pin_from_tty(prompt: &str) -> std::io::Result<Pin> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    write!(tty, "{prompt}")?;
    tty.flush()?;
    stty("-echo");
    let mut line = Vec::new();
    let result = std::io::BufReader::new(&mut tty).read_until(b'\n', &mut line);
    stty("echo");
    let _ = writeln!(tty);
    result?;
    let pin = Pin::new(clean_secret(&line));
    zeroize::Zeroize::zeroize(&mut line);
    Ok(pin)
}

/// Reads a visible answer line (e.g. the two-digit number) from stdin.
pub fn line(prompt: &str) -> std::io::Result<String> {
    eprint!("{prompt}");
    let mut s = String::new();
    std::io::stdin().lock().read_line(&mut s)?;
    Ok(s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_secret_strips_pam_terminator_and_newline() {
        assert_eq!(clean_secret(b"1234\0"), "1234");
        assert_eq!(clean_secret(b"1234\n"), "1234");
        assert_eq!(clean_secret(b"1234\r\n"), "1234");
        assert_eq!(clean_secret(b"12 34\0garbage"), "12 34");
        assert_eq!(clean_secret(b""), "");
    }
}
