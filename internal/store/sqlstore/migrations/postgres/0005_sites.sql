-- The customer sites: applications (申込), contracts (契約) and qualified
-- invoices (適格請求書). Numbers are what customers quote, unique across
-- accounts. Dates are unix milliseconds like every time; amounts whole yen.
--
-- IF NOT EXISTS: an upgrade test replays every migration after an older one
-- on a database that has these tables already; this file must not fail there.

CREATE TABLE IF NOT EXISTS applications (
    id         TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number     TEXT    NOT NULL UNIQUE CHECK (number <> ''),
    service    TEXT    NOT NULL,
    plan       TEXT    NOT NULL DEFAULT '',
    status     TEXT    NOT NULL CHECK (status IN ('received', 'reviewing', 'active', 'cancelled')),
    applied_at BIGINT  NOT NULL
);
-- ApplicationsOf, newest first.
CREATE INDEX IF NOT EXISTS applications_account ON applications (account_id, applied_at);

CREATE TABLE IF NOT EXISTS contracts (
    id          TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    number      TEXT    NOT NULL UNIQUE CHECK (number <> ''),
    service     TEXT    NOT NULL,
    plan        TEXT    NOT NULL DEFAULT '',
    start_date  BIGINT  NOT NULL,
    monthly_fee BIGINT  NOT NULL CHECK (monthly_fee >= 0),
    status      TEXT    NOT NULL CHECK (status IN ('active', 'ended'))
);
CREATE INDEX IF NOT EXISTS contracts_account ON contracts (account_id, start_date);

-- An issuer must keep copies of its qualified invoices for years after an
-- account is gone, so deleting an account with invoices is refused rather
-- than cascaded.
CREATE TABLE IF NOT EXISTS invoices (
    id                  TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    account_id          TEXT    NOT NULL REFERENCES accounts (id),
    number              TEXT    NOT NULL UNIQUE CHECK (number <> ''),
    issuer_name         TEXT    NOT NULL,
    issuer_registration TEXT    NOT NULL,
    recipient           TEXT    NOT NULL,
    issued_at           BIGINT  NOT NULL,
    period_start        BIGINT  NOT NULL,
    period_end          BIGINT  NOT NULL
);
CREATE INDEX IF NOT EXISTS invoices_account ON invoices (account_id, issued_at);

-- An invoice's lines, in printed order. Tax is never stored per line: it is
-- computed per invoice and rate (package billing).
CREATE TABLE IF NOT EXISTS invoice_items (
    invoice_id  TEXT    NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position    BIGINT  NOT NULL,
    description TEXT    NOT NULL,
    quantity    BIGINT  NOT NULL CHECK (quantity > 0),
    unit_price  BIGINT  NOT NULL CHECK (unit_price >= 0),
    tax_rate    BIGINT  NOT NULL CHECK (tax_rate IN (8, 10)),
    reduced     BIGINT  NOT NULL CHECK (reduced IN (0, 1)),
    PRIMARY KEY (invoice_id, position)
);
