-- Recovery requests of locked-out customers: confirmed by a mail link, then
-- waiting out a cooling-off period before a sign-in may enrol anew. Times
-- are unix milliseconds, 0 for "never/none".
CREATE TABLE recovery_requests (
    id                 TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    account_id         TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status             TEXT    NOT NULL CHECK (status IN ('unconfirmed', 'waiting', 'cancelled', 'completed')),
    confirm_token_hash TEXT    NOT NULL UNIQUE CHECK (confirm_token_hash <> ''),
    confirm_expires_at BIGINT  NOT NULL,
    created_at         BIGINT  NOT NULL,
    confirmed_at       BIGINT  NOT NULL DEFAULT 0,
    effective_at       BIGINT  NOT NULL DEFAULT 0,
    cancelled_at       BIGINT  NOT NULL DEFAULT 0,
    cancel_reason      TEXT    NOT NULL DEFAULT '',
    completed_at       BIGINT  NOT NULL DEFAULT 0,
    approved_by        TEXT    NOT NULL DEFAULT ''
);
-- At most one open request per account.
CREATE UNIQUE INDEX recovery_requests_open ON recovery_requests (account_id)
    WHERE status IN ('unconfirmed', 'waiting');
-- ListPendingRecoveries.
CREATE INDEX recovery_requests_pending ON recovery_requests (created_at)
    WHERE status IN ('unconfirmed', 'waiting');
