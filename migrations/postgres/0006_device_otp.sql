-- Agent OTPs as the `otp` factor at sign-in (issue 6): the algorithm the
-- device enrolled with, and the last accepted time step, so each step is
-- accepted at most once per device (like totp_factors.last_step).
ALTER TABLE devices ADD COLUMN otp_algorithm TEXT NOT NULL DEFAULT 'totp-sha1';
ALTER TABLE devices ADD COLUMN otp_last_step BIGINT NOT NULL DEFAULT 0;
