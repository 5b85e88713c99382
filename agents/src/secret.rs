//! Secret-holding types: their `Debug` never shows the value, they are not
//! `Serialize`, and their memory is zeroized on drop.

use zeroize::Zeroizing;

/// A user's PIN, as typed or as handed over by `pam_exec expose_authtok`.
#[derive(Clone)]
pub struct Pin(Zeroizing<String>);

impl Pin {
    pub fn new(pin: String) -> Self {
        Self(Zeroizing::new(pin))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(redacted)")
    }
}

/// An OTP seed (the shared key K of RFC 4226 / GM/T 0021).
#[derive(Clone)]
pub struct OtpSeed(Zeroizing<Vec<u8>>);

impl OtpSeed {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for OtpSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OtpSeed({} bytes, redacted)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_values() {
        assert_eq!(format!("{:?}", Pin::new("4711".into())), "Pin(redacted)");
        let s = format!("{:?}", OtpSeed::new(b"sekrit-seed".to_vec()));
        assert!(!s.contains("sekrit"));
        assert!(s.contains("11 bytes"));
    }
}
