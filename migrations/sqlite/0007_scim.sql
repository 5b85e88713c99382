-- SCIM 2.0 provisioning (issue 7): the outbox of changes to push to each
-- target, the target's ids of what was pushed, and per-target delivery state.
-- Portable types as in 0001, one text for both databases.
-- (0005 and 0006 are taken by other work in flight.)

-- One row per (target, resource) with a change not yet delivered. A row says
-- "push the current state of this resource", so changes to one resource
-- coalesce: an upsert bumps `version`, and a delivery deletes the row only
-- if `version` is still the one it read. Written in the same transaction as
-- the user change that caused it.
CREATE TABLE scim_outbox (
    target          TEXT NOT NULL,    -- [[scim.targets]] name
    kind            TEXT NOT NULL,    -- 'user' or 'group'
    subject         TEXT NOT NULL,    -- user id, or group name
    version         BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,   -- failed deliveries of this resource
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_error      TEXT,
    failed_at       BIGINT,           -- set after scim.max_attempts: parked until it changes again
    PRIMARY KEY (target, kind, subject)
);
CREATE INDEX scim_outbox_due ON scim_outbox(target, next_attempt_at);

-- What a target holds for each resource Tollgate pushed there.
CREATE TABLE scim_resources (
    target     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    remote_id  TEXT NOT NULL,         -- the target's `id`
    pushed     TEXT NOT NULL,         -- user: hex SHA-256 of the pushed resource; group: JSON list of member remote ids
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (target, kind, subject)
);

-- Delivery state per target: target-wide backoff (it is down or refuses
-- the token), the last outcome for `tollgate scim status`, the initial full
-- sync marker, and a short lease so one replica at a time delivers.
CREATE TABLE scim_targets (
    target          TEXT PRIMARY KEY,
    full_sync_at    BIGINT,
    failures        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    last_success_at BIGINT,
    last_error      TEXT,
    last_error_at   BIGINT,
    lease_owner     TEXT,
    lease_until     BIGINT NOT NULL DEFAULT 0
);
