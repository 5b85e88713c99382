-- Key rotations reach every replica at once (issue 16): a change to
-- signing_keys (a rotation inserts the new key and retires the old one in
-- one transaction) notifies `tollgate_keys`; each issuer reloads its
-- keyring, so every replica publishes the same JWKS. The 30 s reload stays
-- as the fallback. One notification per statement: the payload is empty,
-- the listener reloads everything.
CREATE FUNCTION tollgate_notify_keys_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('tollgate_keys', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER signing_keys_notify
    AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH STATEMENT
    EXECUTE FUNCTION tollgate_notify_keys_changed();
