-- Security events that must reach relying parties (issue 7): CAEP/SSF
-- Security Event Tokens pushed to receivers, OIDC back-channel logout.
-- Portable types as in 0001: BIGINT Unix seconds, JSON as TEXT.

-- What happened, written in the same transaction as the change itself
-- (a session ended, a user's access revoked, a credential changed), so a
-- crash can never lose it.
CREATE TABLE event_intents (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,       -- 'session-revoked' or 'credential-change'
    user_id      TEXT NOT NULL,
    session_id   TEXT,                -- the ended session, for session-revoked
    data         TEXT NOT NULL,       -- JSON: reason, initiator, credential type…
    created_at   BIGINT NOT NULL,
    expanded_at  BIGINT               -- when its deliveries were created
);
CREATE INDEX event_intents_pending ON event_intents(expanded_at);

-- One push to one receiver (a SET, RFC 8935) or one relying party (a
-- logout token), retried with backoff until delivered.
CREATE TABLE event_deliveries (
    id              TEXT PRIMARY KEY,
    intent_id       TEXT NOT NULL REFERENCES event_intents(id),
    channel         TEXT NOT NULL,    -- 'ssf' or 'backchannel-logout'
    target          TEXT NOT NULL,    -- receiver name or client id
    url             TEXT NOT NULL,
    claims          TEXT NOT NULL,    -- JSON claims, signed at each attempt
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    failed_at       BIGINT,           -- gave up (too many attempts)
    last_error      TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX event_deliveries_due ON event_deliveries(delivered_at, failed_at, next_attempt_at);
