-- Admin-issued one-time password reset links (`tollgate users reset`,
-- issue 15). Only the SHA-256 of the link's secret is stored, like every
-- other bearer secret. A link is used by setting `used_at` in the same
-- transaction that sets the password (`UPDATE … WHERE used_at IS NULL AND
-- expires_at > now`), so two racing uses cannot both succeed; issuing a new
-- link for a user retires the older ones.
CREATE TABLE password_resets (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    created_by  TEXT NOT NULL           -- 'cli' (who issued it, for the audit)
);
CREATE INDEX password_resets_user ON password_resets(user_id);
