-- A requester may withdraw their own open reset request ('withdrawn').
-- SQLite cannot change a CHECK constraint in place: the table is made again
-- and its rows copied over, open requests included.
CREATE TABLE reset_requests_new (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    account_id   TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    reason       TEXT    NOT NULL CHECK (reason <> ''),
    requested_by TEXT    NOT NULL CHECK (requested_by <> ''),
    requested_at INTEGER NOT NULL,
    decided_by   TEXT    NOT NULL DEFAULT '',
    decided_at   INTEGER NOT NULL DEFAULT 0,
    decision     TEXT    NOT NULL DEFAULT '' CHECK (decision IN ('', 'approved', 'rejected', 'withdrawn'))
);
INSERT INTO reset_requests_new (id, account_id, reason, requested_by, requested_at, decided_by, decided_at, decision)
    SELECT id, account_id, reason, requested_by, requested_at, decided_by, decided_at, decision FROM reset_requests;
DROP TABLE reset_requests;
ALTER TABLE reset_requests_new RENAME TO reset_requests;
-- At most one open request per account.
CREATE UNIQUE INDEX reset_requests_open ON reset_requests (account_id) WHERE decision = '';
-- ListOpenResetRequests.
CREATE INDEX reset_requests_pending ON reset_requests (requested_at) WHERE decision = '';
