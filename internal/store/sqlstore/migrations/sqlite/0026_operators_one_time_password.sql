-- While an operator's password is a one-time one an admin was shown (a new
-- operator's first, or a reset one): until when it signs in (unix ms); the
-- console then asks for the operator's own first. 0 for their own password.
ALTER TABLE operators ADD COLUMN one_time_until INTEGER NOT NULL DEFAULT 0;
