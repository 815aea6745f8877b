-- Codes sent to phones, and the demo's outbox.

-- How a phone factor prefers its codes: 'sms' or 'voice'; '' for TOTP. Rows
-- enrolled before this migration read as ''.
ALTER TABLE factors ADD COLUMN channel TEXT NOT NULL DEFAULT '';

-- The one live code of each sign-in flow: the key is the flow, so sending
-- again replaces the code. There is deliberately no foreign key to flows: a
-- flow may be deleted when it finishes and its code deleted separately (or
-- left to DeleteExpiredPhoneCodes). The account's codes go with it, and
-- ResetMFA deletes them explicitly.
CREATE TABLE phone_codes (
    flow_hash  TEXT    NOT NULL PRIMARY KEY CHECK (flow_hash <> ''),
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    phone      TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    code_hash  TEXT    NOT NULL,
    sent_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX phone_codes_account ON phone_codes (account_id);
CREATE INDEX phone_codes_expires ON phone_codes (expires_at);

-- Messages the demo's outbox sender kept instead of sending. The recipient
-- column is not called "to", a reserved word in PostgreSQL. AUTOINCREMENT:
-- ids only grow, so newest first is id order.
CREATE TABLE outbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    recipient TEXT    NOT NULL,
    channel   TEXT    NOT NULL,
    subject   TEXT    NOT NULL DEFAULT '',
    body      TEXT    NOT NULL DEFAULT ''
);
