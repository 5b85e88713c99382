//! Server-side cost of one ceremony: passkey registration finish, passkey
//! authentication finish, TOTP verification. Database and argon2 excluded.
//! `cargo bench -p tollgate-authz --bench authenticators`

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_authz::login::attestation::AttestationPolicy;
use tollgate_authz::login::passkey::{
    finish_authentication, finish_registration, relying_party, start_authentication,
    start_registration,
};
use tollgate_authz::login::soft_passkey::{SoftPasskey, TestAttestationCa};
use tollgate_authz::login::totp;

const ISSUER: &str = "https://login.example";

fn bench(c: &mut Criterion) {
    let rp = relying_party(ISSUER, "Tollgate").unwrap();

    // Registration: the answer is prepared once; finishing does not consume it.
    let none = AttestationPolicy::default();
    let (opts, reg_state) = start_registration(&rp, "u1", "alice", "Alice", &[], false).unwrap();
    let (mut pk, reg_resp) = SoftPasskey::register(&opts, ISSUER, false).unwrap();
    c.bench_function("passkey registration finish", |b| {
        b.iter(|| finish_registration(&rp, &reg_state, &reg_resp, "u1", "Key", &none, 0).unwrap())
    });

    // Registration with a packed attestation checked against a trusted CA.
    let ca = TestAttestationCa::generate("Bench Root").unwrap();
    let policy = AttestationPolicy::from_pems(&[("ca.pem", &ca.pem())], &[]).unwrap();
    let (opts, att_state) = start_registration(&rp, "u1", "alice", "Alice", &[], true).unwrap();
    let (_, att_resp) = SoftPasskey::register_attested(&opts, ISSUER, false, Some(&ca)).unwrap();
    let now = 1_767_225_600;
    c.bench_function("passkey registration finish (packed, CA chain)", |b| {
        b.iter(|| {
            let row =
                finish_registration(&rp, &att_state, &att_resp, "u1", "Key", &policy, now).unwrap();
            assert!(row.attested);
        })
    });

    // Authentication against a stored row (counter 0, so the same answer
    // verifies every time).
    let row = finish_registration(&rp, &reg_state, &reg_resp, "u1", "Key", &none, 0).unwrap();
    let rows = [row.clone()];
    let (opts, auth_state) = start_authentication(&rp, Some(&rows)).unwrap();
    let auth_resp = pk.assert(&opts, ISSUER).unwrap();
    c.bench_function("passkey authentication finish", |b| {
        b.iter(|| finish_authentication(&rp, &auth_state, &auth_resp, &row).unwrap())
    });

    let p = totp::Params::default();
    let secret = totp::new_secret();
    let code = totp::code_at_step(p, &secret, now / 30 + 1);
    c.bench_function("totp verify (3 steps)", |b| {
        b.iter(|| totp::verify(p, &secret, &code, now).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
