-- Tollgate schema, SQLite dialect. Times are Unix seconds; flags are 0/1.
CREATE TABLE clients (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT,                 -- hex SHA-256 of the secret; NULL for public clients
    settings    TEXT NOT NULL,        -- JSON: redirect URIs, grants, auth method, algs
    source      TEXT NOT NULL,        -- 'config' or 'cli'
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,   -- stable subject identifier (sub)
    login         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    email         TEXT,
    upn           TEXT,
    group_names   TEXT NOT NULL DEFAULT '[]',
    disabled      BIGINT NOT NULL DEFAULT 0,
    password_hash TEXT,               -- argon2id PHC string; NULL when no password
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,      -- the sid claim; not secret
    token_hash TEXT NOT NULL UNIQUE,  -- hex SHA-256 of the session cookie
    user_id    TEXT NOT NULL REFERENCES users(id),
    factors    TEXT NOT NULL,         -- JSON list of proven factors with times
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE interactions (
    id         TEXT PRIMARY KEY,
    data       TEXT NOT NULL,         -- JSON state of the login interaction
    expires_at BIGINT NOT NULL
);

CREATE TABLE grants (
    id            TEXT PRIMARY KEY,   -- one authorization: a code and its refresh-token family
    client_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    session_id    TEXT,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoke_reason TEXT
);
CREATE INDEX grants_user ON grants(user_id);
CREATE INDEX grants_session ON grants(session_id);

CREATE TABLE auth_codes (
    code_hash   TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL REFERENCES grants(id),
    client_id   TEXT NOT NULL,
    data        TEXT NOT NULL,        -- JSON: redirect_uri, scope, nonce, PKCE challenge, acr, amr, auth_time
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES grants(id),
    data       TEXT NOT NULL,         -- JSON: scope, acr, amr, auth_time
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT                 -- set when rotated; a second use is reuse
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE assertion_jtis (
    jti        TEXT PRIMARY KEY,      -- private_key_jwt assertions are single-use
    expires_at BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    private_sealed TEXT NOT NULL,     -- base64 of AES-256-GCM(master key, PKCS#8)
    public_jwk     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    activates_at   BIGINT NOT NULL,   -- published from created_at, signs from here
    retires_at     BIGINT,            -- stops signing
    expires_at     BIGINT             -- leaves the JWKS
);

CREATE TABLE login_failures (
    key          TEXT PRIMARY KEY,    -- 'user:<login>' or 'ip:<address>'
    count        BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    subject   TEXT NOT NULL,
    data      TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
