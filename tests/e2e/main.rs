//! End-to-end tests: the real server on 127.0.0.1:0, driven by real clients
//! (the `openidconnect` crate as relying party, reqwest as browser).

mod agent;
mod agent_attest;
mod agent_otp;
mod attempts;
mod attestation;
mod authenticators;
mod bad_input;
mod browser;
mod callers;
mod cdp;
mod directory;
mod events;
mod first_run;
mod freshness;
mod gateway;
mod gateway_paths;
mod last_factor;
mod logout_attacks;
mod negative;
mod oidc_flow;
mod operations;
mod ops_exposure;
mod policy;
mod private_key_jwt;
mod scim;
mod slapd;
mod swtpm;
mod tls_front;
mod token_confusion;
mod vcenter;
