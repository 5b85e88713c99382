-- TPM key attestation (issue 14): the issuer records a device key as
-- hardware ('tpm') only after it verified the TPM's attestation at
-- enrollment. `key_storage` is now what the issuer verified, never what
-- the agent said; the claim is kept in `claimed_storage`, and
-- `attestation` says why the key is what it is (shown in device lists).
ALTER TABLE devices ADD COLUMN claimed_storage TEXT;
ALTER TABLE devices ADD COLUMN attestation TEXT NOT NULL DEFAULT '';
-- Devices enrolled before this migration proved nothing: a 'tpm' claim
-- becomes software (at most phr) until the device is enrolled again.
UPDATE devices SET claimed_storage = key_storage,
    attestation = 'not attested: enrolled before TPM attestation existed',
    key_storage = CASE WHEN key_storage = 'tpm' THEN 'software' ELSE key_storage END;
-- The credential-activation round trip of an enrollment: the hash of the
-- secret sealed to the TPM's EK for its AK (single use: set once, checked
-- by the finish that consumes the enrollment), the AK's TPMT_PUBLIC
-- (base64url) that must then certify the device key, and the EK
-- certificate's issuer for the record.
ALTER TABLE device_enrollments ADD COLUMN attest_secret_hash TEXT;
ALTER TABLE device_enrollments ADD COLUMN attest_ak TEXT;
ALTER TABLE device_enrollments ADD COLUMN attest_ek_issuer TEXT;
