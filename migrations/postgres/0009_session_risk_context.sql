-- What the login that made (or last stepped up) a session knew, so a
-- gateway request carrying the session's token is scored against it
-- (docs/risk.md, "The gateway"): JSON {"device": hashed device id or null,
-- "ip": address, "at": Unix seconds}. NULL for sessions from before.
ALTER TABLE sessions ADD COLUMN risk_context TEXT;
