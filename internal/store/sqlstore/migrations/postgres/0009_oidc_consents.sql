-- What each customer has allowed each third-party client to read, so that
-- consent is asked once, and again only for more.
CREATE TABLE oidc_consents (
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL DEFAULT '[]',
    granted_at BIGINT  NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
