-- The channel the customer chose for the number (the number form's
-- 「テキストメッセージ」 or 「音声通話」), apart from the channel of the
-- code last sent: a resend by the other channel is a one-off, and the
-- enrolment saves the choice. Codes in flight at the upgrade read back
-- empty, and their enrolment saves the channel of their last code, as
-- before.
ALTER TABLE phone_codes ADD COLUMN chosen_channel TEXT NOT NULL DEFAULT '';
