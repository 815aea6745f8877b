-- The operator console: operators (always with a TOTP second factor), their
-- sessions, and the locks they put on customer accounts.
CREATE TABLE IF NOT EXISTS operators (
    id               TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    email            TEXT    NOT NULL UNIQUE CHECK (email <> ''),
    name             TEXT    NOT NULL DEFAULT '',
    role             TEXT    NOT NULL CHECK (role IN ('support', 'admin')),
    password_hash    TEXT    NOT NULL,
    totp_secret      TEXT    NOT NULL,
    last_step        BIGINT  NOT NULL DEFAULT 0,
    created_at       BIGINT  NOT NULL,
    disabled         BIGINT  NOT NULL DEFAULT 0,
    mfa_failures     BIGINT  NOT NULL DEFAULT 0,
    mfa_locked_until BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS operator_sessions (
    id_hash     TEXT    NOT NULL PRIMARY KEY CHECK (id_hash <> ''),
    operator_id TEXT    NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL,
    mfa_at      BIGINT  NOT NULL DEFAULT 0,
    expires_at  BIGINT  NOT NULL,
    client_ip   TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS operator_sessions_operator ON operator_sessions (operator_id);
CREATE INDEX IF NOT EXISTS operator_sessions_expires ON operator_sessions (expires_at);

-- At most one lock per account: the key is the account.
CREATE TABLE IF NOT EXISTS account_locks (
    account_id TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    locked_by  TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    at         BIGINT  NOT NULL
);

-- ListAudit across accounts, newest first.
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at, id);
-- FindAccounts by contract and application number.
CREATE INDEX IF NOT EXISTS contracts_number_upper ON contracts (upper(number));
CREATE INDEX IF NOT EXISTS applications_number_upper ON applications (upper(number));
