-- The customer sites' own sessions, ended by the portal's back-channel
-- logout (by sid) or by the site's sign-out.
CREATE TABLE site_sessions (
    id_hash    TEXT PRIMARY KEY,
    site       TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    sid        TEXT NOT NULL DEFAULT '',
    id_token   TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX site_sessions_sid ON site_sessions (site, sid);
CREATE INDEX site_sessions_account ON site_sessions (site, account_id);
CREATE INDEX site_sessions_expires ON site_sessions (expires_at);
