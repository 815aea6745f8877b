-- A browser's portal session keeps one sid across sign-ins and step-ups in
-- that browser, so the sites it signed in to are found again at sign-out.
ALTER TABLE sessions ADD COLUMN sid TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_sid ON sessions (sid);
