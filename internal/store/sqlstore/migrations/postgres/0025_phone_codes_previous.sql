-- The hash of the code a resend replaced, so that a customer who types the
-- earlier code (a text message that came late) is told to use the newest.
ALTER TABLE phone_codes ADD COLUMN previous_hash TEXT NOT NULL DEFAULT '';
