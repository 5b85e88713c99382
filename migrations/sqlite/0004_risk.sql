-- Risk state the issuer keeps between logins (issue 5).
-- Portable types as in 0001: BIGINT Unix seconds, base64/hex TEXT.

-- One bounded history per user (tollgate-risk UserHistory, ~1.2 KiB):
-- what the scorer compares each login against. Written after an admitted
-- login, read before scoring.
CREATE TABLE risk_history (
    user_login   TEXT PRIMARY KEY,    -- the login name, as in login events
    data         TEXT NOT NULL,       -- base64 of UserHistory::encode()
    updated_at   BIGINT NOT NULL
);

-- Browser devices a deny-with-revocation flagged: never "known" again.
CREATE TABLE risk_flagged_devices (
    device_hash  TEXT PRIMARY KEY,    -- hex SHA-256 of the tg_device cookie
    user_login   TEXT NOT NULL,
    flagged_at   BIGINT NOT NULL,
    reason       TEXT NOT NULL
);
