-- What a directory says about its groups (issue 15): the DN and the
-- description VMware's ws1b Group extension carries to vCenter. Groups
-- themselves stay names on users (`users.group_names`); a local group has
-- no row here, so it has no DN and no description. Keyed by the name
-- because the name is the group's identity everywhere else (SCIM
-- `externalId`, policy rules); two directories with one group name share
-- the row, the last sync wins.
CREATE TABLE directory_groups (
    name        TEXT PRIMARY KEY,     -- the group name users carry
    directory   TEXT NOT NULL,        -- [[directories]] name that last listed it
    dn          TEXT NOT NULL,        -- distinguished name (AD: distinguishedName)
    description TEXT,                 -- the directory's description, if any
    synced_at   BIGINT NOT NULL
);
CREATE INDEX directory_groups_directory ON directory_groups(directory);
