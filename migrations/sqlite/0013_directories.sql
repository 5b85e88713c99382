-- LDAP / Active Directory as a user source (issue 15): which users a
-- directory owns (by the directory's stable id, so a rename is an update,
-- not a new user), and each directory's sync state. Portable types as in
-- 0001, one text for both databases. A local user has no row here, so no
-- sync ever touches it (the break-glass administrator stays local).
CREATE TABLE directory_accounts (
    user_id     TEXT PRIMARY KEY REFERENCES users(id),
    directory   TEXT NOT NULL,        -- [[directories]] name
    external_id TEXT NOT NULL,        -- objectGUID (as GUID text) or entryUUID
    dn          TEXT NOT NULL,        -- distinguished name last seen (what the password bind uses)
    disabled_by_directory BIGINT NOT NULL DEFAULT 0, -- 1: disabled here because the directory disabled or removed it
    synced_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX directory_accounts_external ON directory_accounts(directory, external_id);

-- One row per directory: last outcome for `tollgate directories status`,
-- the retry schedule after a failed sync, and a short lease so one replica
-- at a time runs the scheduled sync.
CREATE TABLE directory_state (
    directory       TEXT PRIMARY KEY,
    last_success_at BIGINT,
    last_error      TEXT,
    last_error_at   BIGINT,
    failures        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     BIGINT NOT NULL DEFAULT 0
);
