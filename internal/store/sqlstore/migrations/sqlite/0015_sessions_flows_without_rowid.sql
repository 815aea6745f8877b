-- Sessions and flows are found by their id's hash alone: stored WITHOUT
-- ROWID, the key is the table, and a sign-in writes one B-tree fewer for
-- each (the separate index a TEXT primary key needs is gone). The rows are
-- copied over: nobody is signed out, no sign-in in progress is lost.
CREATE TABLE sessions_new (
    id_hash    TEXT    NOT NULL PRIMARY KEY CHECK (id_hash <> ''),
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    mfa_at     INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    client_ip  TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT '',
    amr        TEXT    NOT NULL DEFAULT '',
    sid        TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;
INSERT INTO sessions_new (id_hash, account_id, created_at, mfa_at, expires_at, client_ip, user_agent, amr, sid)
    SELECT id_hash, account_id, created_at, mfa_at, expires_at, client_ip, user_agent, amr, sid FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_sid ON sessions (sid);

CREATE TABLE flows_new (
    id_hash    TEXT    NOT NULL PRIMARY KEY CHECK (id_hash <> ''),
    account_id TEXT    REFERENCES accounts (id) ON DELETE CASCADE,
    state      TEXT    NOT NULL,
    data       TEXT    NOT NULL DEFAULT '',
    return_to  TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO flows_new (id_hash, account_id, state, data, return_to, created_at, expires_at)
    SELECT id_hash, account_id, state, data, return_to, created_at, expires_at FROM flows;
DROP TABLE flows;
ALTER TABLE flows_new RENAME TO flows;
CREATE INDEX flows_account ON flows (account_id);
CREATE INDEX flows_expires ON flows (expires_at);
