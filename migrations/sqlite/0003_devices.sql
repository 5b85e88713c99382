-- Endpoint agents (issue 6): enrolled devices, enrollment codes and
-- challenges, login approvals, device-request nonces, offline grants and
-- their receipts, and the issuer's SM2 grant-signing key.
-- Portable types as in 0001: BIGINT Unix seconds, hex/base64url TEXT.
CREATE TABLE devices (
    id           TEXT PRIMARY KEY,    -- 'd-…', the agent's device id
    user_id      TEXT NOT NULL REFERENCES users(id),
    public_key   TEXT NOT NULL,       -- base64url SM2 SubjectPublicKeyInfo DER
    dist_id      TEXT NOT NULL,       -- SM2 distinguishing ID of the key
    key_storage  TEXT NOT NULL,       -- 'tpm', 'tpm-sealed' or 'software'
    ek           TEXT,                -- base64url TPM EK certificate or EK public key
    hostname     TEXT NOT NULL DEFAULT '',
    otp_sealed   TEXT,                -- base64 of MasterKey::seal("device-otp:<id>", seed)
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX devices_user ON devices(user_id);

CREATE TABLE device_enroll_codes (
    code_hash    TEXT PRIMARY KEY,    -- hex SHA-256 of the code shown to the user
    user_id      TEXT NOT NULL REFERENCES users(id),
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);

CREATE TABLE device_enrollments (
    id           TEXT PRIMARY KEY,    -- enrollment_id handed to the agent
    user_id      TEXT NOT NULL REFERENCES users(id),
    challenge    TEXT NOT NULL,       -- base64url random, signed by the new key
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);

CREATE TABLE device_challenges (
    id             TEXT PRIMARY KEY,  -- challenge_id
    transaction_id TEXT NOT NULL,     -- the login interaction it completes
    device_id      TEXT NOT NULL REFERENCES devices(id),
    nonce          TEXT NOT NULL,
    number         TEXT NOT NULL,     -- two digits shown on the login page
    origin         TEXT NOT NULL,     -- JSON: ip, user_agent, client
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    answered_at    BIGINT,
    outcome        TEXT               -- 'approved', 'denied', 'rejected'
);
CREATE INDEX device_challenges_tx ON device_challenges(transaction_id);
CREATE INDEX device_challenges_device ON device_challenges(device_id);

CREATE TABLE device_nonces (
    device_id  TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, nonce)
);

CREATE TABLE offline_grants (
    id         TEXT PRIMARY KEY,      -- grant_id
    device_id  TEXT NOT NULL REFERENCES devices(id),
    claims     TEXT NOT NULL,         -- JSON GrantClaims as signed
    issued_at  BIGINT NOT NULL,
    not_after  BIGINT NOT NULL
);
CREATE INDEX offline_grants_device ON offline_grants(device_id);

CREATE TABLE offline_receipts (
    id          TEXT PRIMARY KEY,     -- receipt_id, stored once
    device_id   TEXT NOT NULL REFERENCES devices(id),
    grant_id    TEXT NOT NULL,
    login_at    BIGINT NOT NULL,
    sequence    BIGINT NOT NULL,
    flags       TEXT NOT NULL,        -- JSON list of flag codes; '[]' when clean
    uploaded_at BIGINT NOT NULL
);

CREATE TABLE grant_keys (
    kid            TEXT PRIMARY KEY,
    private_sealed TEXT NOT NULL,     -- base64 of MasterKey::seal("grant-key:<kid>", SM2 scalar)
    public_key     TEXT NOT NULL,     -- base64url SubjectPublicKeyInfo DER
    created_at     BIGINT NOT NULL
);
