-- The security page lists an account's sessions, the newest sign-in first
-- (SessionsOf): with created_at in the account's index they are read in
-- that order, with no sort. Every statement that found sessions by
-- account_id alone uses the index as before.
DROP INDEX sessions_account;
CREATE INDEX sessions_account ON sessions (account_id, created_at);
