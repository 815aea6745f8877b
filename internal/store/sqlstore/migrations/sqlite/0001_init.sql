-- Tobira's first schema. Times are unix milliseconds, 0 for "never/none".
-- Every row that belongs to an account goes with it (ON DELETE CASCADE);
-- the audit log does not, since it must outlive what it describes.

CREATE TABLE accounts (
    id               TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    email            TEXT    NOT NULL UNIQUE CHECK (email <> ''),
    name             TEXT    NOT NULL DEFAULT '',
    password_hash    TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    mfa_failures     INTEGER NOT NULL DEFAULT 0,
    mfa_locked_until INTEGER NOT NULL DEFAULT 0
);
-- ListAccounts' order.
CREATE INDEX accounts_created_at ON accounts (created_at, email);

CREATE TABLE factors (
    id         TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    last_step  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
-- FactorsOf, in its order.
CREATE INDEX factors_account ON factors (account_id, created_at);

-- At most one recovery code per account: the key is the account.
CREATE TABLE recovery_codes (
    account_id TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash    TEXT    NOT NULL PRIMARY KEY CHECK (id_hash <> ''),
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    mfa_at     INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    client_ip  TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- account_id is NULL until the flow knows whose sign-in it is.
CREATE TABLE flows (
    id_hash    TEXT    NOT NULL PRIMARY KEY CHECK (id_hash <> ''),
    account_id TEXT    REFERENCES accounts (id) ON DELETE CASCADE,
    state      TEXT    NOT NULL,
    data       TEXT    NOT NULL DEFAULT '',
    return_to  TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX flows_account ON flows (account_id);
CREATE INDEX flows_expires ON flows (expires_at);

CREATE TABLE one_time_tokens (
    hash       TEXT    NOT NULL PRIMARY KEY CHECK (hash <> ''),
    purpose    TEXT    NOT NULL,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX one_time_tokens_account ON one_time_tokens (account_id);

-- One counter per key and fixed window (window_start in unix ms).
CREATE TABLE limits (
    key          TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) WITHOUT ROWID;

-- AUTOINCREMENT: an id is never reused, even after the newest row is gone.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    account_id TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    client_ip  TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT ''
);
-- AuditOf, newest first.
CREATE INDEX audit_events_account ON audit_events (account_id, at, id);

-- The log is append-only: refuse changes and deletions in the database itself.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
