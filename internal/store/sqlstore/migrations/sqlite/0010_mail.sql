-- The mail queue: every mail is written here first and sent by a worker, so
-- none is lost while the SMTP server is down or the process restarts.
-- AUTOINCREMENT: an id is never reused, even after the newest row is gone.
CREATE TABLE mails (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient       TEXT    NOT NULL CHECK (recipient <> ''),
    subject         TEXT    NOT NULL,
    text_body       TEXT    NOT NULL DEFAULT '',
    html_body       TEXT    NOT NULL DEFAULT '',
    message_id      TEXT    NOT NULL UNIQUE CHECK (message_id <> ''),
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    sent_at         INTEGER NOT NULL DEFAULT 0,
    gave_up_at      INTEGER NOT NULL DEFAULT 0,
    claimed_until   INTEGER NOT NULL DEFAULT 0
);
-- ClaimMails and MailsPending look only at the mails still to send.
CREATE INDEX mails_due ON mails (next_attempt_at, id) WHERE sent_at = 0 AND gave_up_at = 0;
