-- Revocations reach every replica at once (issue 16): each issuer LISTENs
-- on `tollgate_revocations` and adds the payload (a grant id or an access
-- token's jti) to its revocation cache; the 1 s poll stays as the fallback.
CREATE FUNCTION tollgate_notify_grant_revoked() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('tollgate_revocations', NEW.id);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER grants_revoked_notify
    AFTER UPDATE OF revoked_at ON grants
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION tollgate_notify_grant_revoked();

CREATE FUNCTION tollgate_notify_token_revoked() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('tollgate_revocations', NEW.jti);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER revoked_tokens_notify
    AFTER INSERT ON revoked_tokens
    FOR EACH ROW
    EXECUTE FUNCTION tollgate_notify_token_revoked();
