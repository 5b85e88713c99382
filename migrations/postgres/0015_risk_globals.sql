-- The risk scorer's global frequency sketch (tollgate-risk
-- GlobalFrequencies: how common each address, network, user agent and
-- device is across all users), so a restart or another replica scores the
-- same login the same way (docs/risk.md, "Global frequencies"). One row;
-- replicas add what they counted since their last save, and `version`
-- makes that read-add-write safe without row locks.
CREATE TABLE risk_globals (
    name         TEXT PRIMARY KEY,    -- 'sketch'
    data         TEXT NOT NULL,       -- base64 of GlobalFrequencies::encode()
    version      BIGINT NOT NULL,     -- incremented by every save
    updated_at   BIGINT NOT NULL
);
