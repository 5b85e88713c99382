//! The agent's one integration test binary (link time is expensive on two
//! cores): OpenSSL interoperability, TPM tests against a swtpm the tests
//! start themselves, and the CLI driven as PAM and a user would drive it,
//! against an in-process reference issuer built from the library.

mod agent {
    #[cfg(feature = "agent")]
    pub mod cli;
    pub mod harness;
    #[cfg(feature = "agent")]
    pub mod issuer;
    pub mod openssl;
    #[cfg(feature = "tpm")]
    pub mod tpm;
}
