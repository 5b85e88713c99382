//! End-to-end tests: the real server on 127.0.0.1:0, driven by real clients
//! (the `openidconnect` crate as relying party, reqwest as browser).

mod agent;
mod agent_attest;
mod agent_otp;
mod attempts;
mod attestation;
mod audit_checkpoints;
mod authenticators;
mod bad_input;
mod browser;
mod callers;
mod cdp;
mod events;
mod first_run;
mod freshness;
mod gateway;
mod gateway_paths;
mod last_factor;
mod logout_attacks;
mod negative;
mod oidc_flow;
mod openapi;
mod operations;
mod ops_exposure;
mod pam_stack;
mod policy;
mod private_key_jwt;
mod replicas;
mod risk_state;
mod rolling;
mod scim;
mod swtpm;
mod tls_front;
mod token_confusion;
mod vcenter;
