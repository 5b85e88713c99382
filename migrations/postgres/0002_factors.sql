-- Authenticators (issue 3): passkeys, TOTP, recovery codes, WebAuthn ceremony state.
-- Portable types as in 0001: BIGINT Unix seconds and 0/1 flags, TEXT hex/JSON.
CREATE TABLE passkeys (
    cred_id        TEXT PRIMARY KEY,  -- base64url credential id (unique across users)
    user_id        TEXT NOT NULL REFERENCES users(id),
    passkey        TEXT NOT NULL,     -- JSON of the webauthn-rs Passkey (public key, counter, flags)
    counter        BIGINT NOT NULL,
    aaguid         TEXT NOT NULL,     -- hex; all zeros with attestation "none"
    backup_eligible BIGINT NOT NULL,  -- 1 = synced passkey: at most phr
    backup_state   BIGINT NOT NULL,
    transports     TEXT NOT NULL,     -- JSON list
    name           TEXT NOT NULL,
    suspicious     BIGINT NOT NULL DEFAULT 0, -- set when the counter went backwards
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE INDEX passkeys_user ON passkeys(user_id);

CREATE TABLE totp_factors (
    user_id     TEXT PRIMARY KEY REFERENCES users(id),
    secret_sealed TEXT NOT NULL,      -- base64 of AES-256-GCM(master key, secret), AAD 'totp:<user_id>'
    active      BIGINT NOT NULL,      -- 0 until one valid code was entered
    last_step   BIGINT NOT NULL,      -- highest accepted time step: each step is accepted once
    created_at  BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    code_hash  TEXT PRIMARY KEY,      -- hex SHA-256 of the code
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

CREATE TABLE webauthn_ceremonies (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,         -- the interaction id or session id that started it
    kind       TEXT NOT NULL,         -- 'register' or 'authenticate'
    state      TEXT NOT NULL,         -- JSON of the webauthn-rs ceremony state
    expires_at BIGINT NOT NULL
);
