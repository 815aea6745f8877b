-- Operators' requests to reset a customer's second factors, which take
-- effect only when a second operator approves them (four eyes). Times are
-- unix milliseconds, 0 for "never/none".
CREATE TABLE reset_requests (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    account_id   TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    reason       TEXT    NOT NULL CHECK (reason <> ''),
    requested_by TEXT    NOT NULL CHECK (requested_by <> ''),
    requested_at BIGINT  NOT NULL,
    decided_by   TEXT    NOT NULL DEFAULT '',
    decided_at   BIGINT  NOT NULL DEFAULT 0,
    decision     TEXT    NOT NULL DEFAULT '' CHECK (decision IN ('', 'approved', 'rejected'))
);
-- At most one open request per account.
CREATE UNIQUE INDEX reset_requests_open ON reset_requests (account_id) WHERE decision = '';
-- ListOpenResetRequests.
CREATE INDEX reset_requests_pending ON reset_requests (requested_at) WHERE decision = '';
