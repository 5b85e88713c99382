//! End-to-end tests: the real server on 127.0.0.1:0, driven by real clients
//! (the `openidconnect` crate as relying party, reqwest as browser).

mod agent;
mod agent_attest;
mod agent_otp;
mod attestation;
mod authenticators;
mod browser;
mod cdp;
mod events;
mod gateway;
mod last_factor;
mod negative;
mod oidc_flow;
mod operations;
mod policy;
mod private_key_jwt;
mod scim;
mod swtpm;
mod tls_front;
mod vcenter;
