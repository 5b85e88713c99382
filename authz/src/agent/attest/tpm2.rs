//! The few TPM 2.0 wire structures the issuer reads (TPM 2.0 Library,
//! Part 2): `TPMT_PUBLIC` (RSA and ECC objects), `TPMS_ATTEST` of a
//! `TPM2_Certify` and `TPMT_SIGNATURE` (ECDSA). Big-endian, sizes checked,
//! nothing trailing; anything else is refused rather than guessed at.

pub const ALG_RSA: u16 = 0x0001;
pub const ALG_AES: u16 = 0x0006;
pub const ALG_SHA256: u16 = 0x000B;
pub const ALG_NULL: u16 = 0x0010;
pub const ALG_ECDSA: u16 = 0x0018;
pub const ALG_ECDAA: u16 = 0x001A;
pub const ALG_SM2: u16 = 0x001B;
pub const ALG_ECC: u16 = 0x0023;
pub const ALG_CFB: u16 = 0x0043;
pub const ECC_NIST_P256: u16 = 0x0003;
pub const ECC_SM2_P256: u16 = 0x0020;
/// `TPM_GENERATED_VALUE`: a restricted signing key signs only structures
/// the TPM made itself, which start with this magic.
pub const GENERATED_VALUE: u32 = 0xff54_4347;
pub const ST_ATTEST_CERTIFY: u16 = 0x8017;

/// `TPMA_OBJECT` bits.
pub mod attr {
    pub const FIXED_TPM: u32 = 1 << 1;
    pub const FIXED_PARENT: u32 = 1 << 4;
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    pub const ENCRYPTED_DUPLICATION: u32 = 1 << 11;
    pub const RESTRICTED: u32 = 1 << 16;
    pub const DECRYPT: u32 = 1 << 17;
    pub const SIGN: u32 = 1 << 18;
}

/// A structure that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub &'static str);

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Malformed> {
        if self.buf.len() < n {
            return Err(Malformed(what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, Malformed> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, Malformed> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn tpm2b(&mut self, what: &'static str) -> Result<&'a [u8], Malformed> {
        let n = self.u16(what)? as usize;
        self.take(n, what)
    }
    fn end(&self, what: &'static str) -> Result<(), Malformed> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Malformed(what))
        }
    }
}

/// The public key inside a `TPMT_PUBLIC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Rsa { modulus: Vec<u8>, exponent: u32 },
    Ecc { curve: u16, x: Vec<u8>, y: Vec<u8> },
}

/// A parsed `TPMT_PUBLIC` with its name (`nameAlg ‖ H(TPMT_PUBLIC)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmPublic {
    pub name_alg: u16,
    pub attributes: u32,
    /// `TPMT_SYM_DEF_OBJECT`: (algorithm, key bits, mode); `ALG_NULL` for none.
    pub symmetric: (u16, u16, u16),
    /// The signing scheme and its hash (`ALG_NULL` for none).
    pub scheme: (u16, u16),
    pub key: PublicKey,
    pub name: Vec<u8>,
}

impl TpmPublic {
    /// Parses a marshalled `TPMT_PUBLIC` (no size prefix). Only SHA-256
    /// names are accepted: the name is what the TPM binds the credential
    /// and the certification to.
    pub fn parse(bytes: &[u8]) -> Result<TpmPublic, Malformed> {
        let mut r = Reader { buf: bytes };
        let kind = r.u16("public: type")?;
        let name_alg = r.u16("public: nameAlg")?;
        if name_alg != ALG_SHA256 {
            return Err(Malformed("public: nameAlg is not SHA-256"));
        }
        let attributes = r.u32("public: objectAttributes")?;
        r.tpm2b("public: authPolicy")?;
        let sym_alg = r.u16("public: symmetric")?;
        let symmetric = if sym_alg == ALG_NULL {
            (ALG_NULL, 0, 0)
        } else {
            (sym_alg, r.u16("public: keyBits")?, r.u16("public: mode")?)
        };
        let scheme_alg = r.u16("public: scheme")?;
        let scheme = if scheme_alg == ALG_NULL {
            (ALG_NULL, ALG_NULL)
        } else if scheme_alg == ALG_ECDAA {
            return Err(Malformed("public: ECDAA is not supported"));
        } else {
            (scheme_alg, r.u16("public: scheme hash")?)
        };
        let key = match kind {
            ALG_RSA => {
                let _bits = r.u16("public: keyBits")?;
                let exponent = match r.u32("public: exponent")? {
                    0 => 65537,
                    e => e,
                };
                let modulus = r.tpm2b("public: modulus")?.to_vec();
                PublicKey::Rsa { modulus, exponent }
            }
            ALG_ECC => {
                let curve = r.u16("public: curveID")?;
                if r.u16("public: kdf")? != ALG_NULL {
                    r.u16("public: kdf hash")?;
                }
                let x = r.tpm2b("public: x")?.to_vec();
                let y = r.tpm2b("public: y")?.to_vec();
                PublicKey::Ecc { curve, x, y }
            }
            _ => return Err(Malformed("public: neither an RSA nor an ECC key")),
        };
        r.end("public: trailing bytes")?;
        Ok(TpmPublic {
            name_alg,
            attributes,
            symmetric,
            scheme,
            key,
            name: name_of(bytes),
        })
    }

    /// Whether every bit of `required` is set.
    pub fn has(&self, required: u32) -> bool {
        self.attributes & required == required
    }
}

/// The TPM name of a SHA-256 object: `0x000B ‖ SHA-256(TPMT_PUBLIC)`.
pub fn name_of(tpmt_public: &[u8]) -> Vec<u8> {
    let mut name = ALG_SHA256.to_be_bytes().to_vec();
    name.extend_from_slice(&crate::secret::sha256(tpmt_public));
    name
}

/// The parts of a `TPMS_ATTEST` from `TPM2_Certify` the issuer checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifyInfo {
    pub magic: u32,
    pub kind: u16,
    pub extra_data: Vec<u8>,
    /// The certified object's name.
    pub name: Vec<u8>,
}

impl CertifyInfo {
    pub fn parse(bytes: &[u8]) -> Result<CertifyInfo, Malformed> {
        let mut r = Reader { buf: bytes };
        let magic = r.u32("attest: magic")?;
        let kind = r.u16("attest: type")?;
        r.tpm2b("attest: qualifiedSigner")?;
        let extra_data = r.tpm2b("attest: extraData")?.to_vec();
        // TPMS_CLOCK_INFO (clock u64, resetCount, restartCount, safe) + firmwareVersion u64
        r.take(8 + 4 + 4 + 1 + 8, "attest: clockInfo")?;
        if kind != ST_ATTEST_CERTIFY {
            return Err(Malformed("attest: not a TPM2_Certify attestation"));
        }
        let name = r.tpm2b("attest: name")?.to_vec();
        r.tpm2b("attest: qualifiedName")?;
        r.end("attest: trailing bytes")?;
        Ok(CertifyInfo {
            magic,
            kind,
            extra_data,
            name,
        })
    }
}

/// An ECDSA `TPMT_SIGNATURE`: (hash algorithm, r, s).
pub fn parse_ecdsa_signature(bytes: &[u8]) -> Result<(u16, Vec<u8>, Vec<u8>), Malformed> {
    let mut r = Reader { buf: bytes };
    if r.u16("signature: sigAlg")? != ALG_ECDSA {
        return Err(Malformed("signature: not ECDSA"));
    }
    let hash = r.u16("signature: hash")?;
    let sr = r.tpm2b("signature: r")?.to_vec();
    let ss = r.tpm2b("signature: s")?.to_vec();
    r.end("signature: trailing bytes")?;
    Ok((hash, sr, ss))
}

/// `n` bytes, left-padded with zeros (TPMs drop leading zero bytes).
pub fn left_pad(v: &[u8], n: usize) -> Option<Vec<u8>> {
    let v = {
        let skip = v.iter().take_while(|b| **b == 0).count();
        &v[skip.min(v.len())..]
    };
    if v.len() > n {
        return None;
    }
    let mut out = vec![0u8; n - v.len()];
    out.extend_from_slice(v);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ECC P-256 ECDSA-SHA256 signing key as marshalled by a TPM.
    fn ecc_public(attributes: u32) -> Vec<u8> {
        let mut b = vec![];
        b.extend(ALG_ECC.to_be_bytes());
        b.extend(ALG_SHA256.to_be_bytes());
        b.extend(attributes.to_be_bytes());
        b.extend(0u16.to_be_bytes()); // authPolicy
        b.extend(ALG_NULL.to_be_bytes()); // symmetric
        b.extend(ALG_ECDSA.to_be_bytes());
        b.extend(ALG_SHA256.to_be_bytes());
        b.extend(ECC_NIST_P256.to_be_bytes());
        b.extend(ALG_NULL.to_be_bytes()); // kdf
        for c in [[1u8; 32], [2u8; 32]] {
            b.extend(32u16.to_be_bytes());
            b.extend(c);
        }
        b
    }

    #[test]
    fn public_parses_and_names_and_refuses_damage() {
        let bytes = ecc_public(attr::SIGN | attr::RESTRICTED | attr::FIXED_TPM);
        let p = TpmPublic::parse(&bytes).expect("parses");
        assert!(p.has(attr::SIGN | attr::RESTRICTED));
        assert!(!p.has(attr::DECRYPT));
        assert_eq!(p.scheme, (ALG_ECDSA, ALG_SHA256));
        assert_eq!(p.name.len(), 34);
        assert_eq!(&p.name[..2], &[0x00, 0x0B]);
        assert_eq!(
            p.key,
            PublicKey::Ecc {
                curve: ECC_NIST_P256,
                x: vec![1; 32],
                y: vec![2; 32]
            }
        );
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("truncated", bytes[..bytes.len() - 1].to_vec()),
            ("trailing", [bytes.clone(), vec![0]].concat()),
            ("sha1 name", {
                let mut b = bytes.clone();
                b[3] = 0x04;
                b
            }),
            ("empty", vec![]),
        ];
        for (what, b) in cases {
            assert!(TpmPublic::parse(&b).is_err(), "{what}");
        }
    }

    #[test]
    fn left_pad_restores_dropped_zeros() {
        assert_eq!(left_pad(&[1, 2], 4), Some(vec![0, 0, 1, 2]));
        assert_eq!(left_pad(&[0, 0, 1], 2), Some(vec![0, 1]));
        assert_eq!(left_pad(&[1, 2, 3], 2), None);
    }
}
