-- Attestation policy (issue 3): a device-bound passkey whose attestation
-- chained to a configured CA at registration (and carried an allowed AAGUID)
-- is "attested" and the only kind of passkey that reaches phrh. Passkeys
-- registered before this migration were not checked: they stay at phr.
ALTER TABLE passkeys ADD COLUMN attested BIGINT NOT NULL DEFAULT 0;
