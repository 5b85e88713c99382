//! SM2 interoperability with the OpenSSL 3 command line, both ways, with
//! the default and a custom distinguishing ID.

use std::process::Command;

use tollgate_agent::sm2::{self, DEFAULT_DIST_ID, Sm2PublicKey, Sm2SecretKey, Sm2Signature};

use super::harness::{TempDir, run};

/// `openssl pkeyutl -verify` of `sig_der` over `msg` with `pub_pem`.
pub fn openssl_verifies(pub_pem: &str, dist_id: &str, msg: &[u8], sig_der: &[u8]) -> bool {
    let dir = TempDir::new("ossl");
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("pub.pem"), pub_pem).unwrap();
    std::fs::write(p("msg"), msg).unwrap();
    std::fs::write(p("sig"), sig_der).unwrap();
    let out = Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
        .arg(p("pub.pem"))
        .args([
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            &format!("distid:{dist_id}"),
            "-in",
        ])
        .arg(p("msg"))
        .arg("-sigfile")
        .arg(p("sig"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    out.status.success() && stdout.contains("Signature Verified Successfully")
}

#[test]
fn our_signatures_verify_in_openssl() {
    let key = Sm2SecretKey::generate().unwrap();
    let pem = key.public_key().to_spki_pem();
    for id in [DEFAULT_DIST_ID, "terminal-42@tollgate"] {
        let sig = key.sign(id, b"login at 08:15").unwrap();
        assert!(
            openssl_verifies(&pem, id, b"login at 08:15", &sig.to_der()),
            "id {id}"
        );
        assert!(!openssl_verifies(
            &pem,
            id,
            b"login at 08:16",
            &sig.to_der()
        ));
    }
    // signed with one ID, checked with another: OpenSSL refuses too
    let sig = key.sign(DEFAULT_DIST_ID, b"x").unwrap();
    assert!(!openssl_verifies(&pem, "other-id", b"x", &sig.to_der()));
}

#[test]
fn openssl_signatures_verify_here() {
    let dir = TempDir::new("ossl-sign");
    let p = |n: &str| dir.path().join(n);
    run(Command::new("openssl")
        .args(["genpkey", "-algorithm", "SM2", "-out"])
        .arg(p("key.pem")));
    run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(p("key.pem"))
        .arg("-out")
        .arg(p("pub.pem")));
    std::fs::write(p("msg"), b"offline grant payload").unwrap();
    let public =
        Sm2PublicKey::from_spki_pem(&std::fs::read_to_string(p("pub.pem")).unwrap()).unwrap();
    // the private key parses too, and derives the same public key
    let secret =
        Sm2SecretKey::from_pkcs8_pem(&std::fs::read_to_string(p("key.pem")).unwrap()).unwrap();
    assert_eq!(secret.public_key(), &public);
    for id in [DEFAULT_DIST_ID, "ALICE123@YAHOO.COM"] {
        run(Command::new("openssl")
            .args(["pkeyutl", "-sign", "-inkey"])
            .arg(p("key.pem"))
            .args([
                "-rawin",
                "-digest",
                "sm3",
                "-pkeyopt",
                &format!("distid:{id}"),
                "-in",
            ])
            .arg(p("msg"))
            .arg("-out")
            .arg(p("sig")));
        let sig = Sm2Signature::from_der(&std::fs::read(p("sig")).unwrap()).unwrap();
        sm2::verify(&public, id, b"offline grant payload", &sig).unwrap();
        assert!(sm2::verify(&public, id, b"offline grant payloaD", &sig).is_err());
    }
}
