-- Signed checkpoints of the audit chain (issue 13): a hash chain alone
-- cannot show that its newest records were deleted; a checkpoint signed
-- with the issuer's key names the head and the record count at a moment,
-- so `tollgate audit verify` can say which records are gone. Kept apart
-- from audit_log (and optionally exported to an append-only file).
CREATE TABLE audit_checkpoints (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ts           BIGINT NOT NULL,
    record_count BIGINT NOT NULL,
    last_id      BIGINT NOT NULL,
    head_hash    TEXT NOT NULL,
    jws          TEXT NOT NULL        -- compact JWS over the four above
);
