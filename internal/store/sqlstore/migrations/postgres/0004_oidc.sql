-- The OpenID Connect provider: relying parties, authorization requests in
-- flight, the grants they end in and the tokens issued from those, and the
-- keys that sign ID tokens.
--
-- Lists of strings (redirect URIs, scopes, AMR values, ...) are JSON text
-- arrays, '[]' when empty: they are always read and written whole, so child
-- tables would only add joins. PostgreSQL keeps them as TEXT too (or JSONB).
--
-- Clients are never deleted by the program; should they be, everything
-- issued to them goes along (ON DELETE CASCADE), as it does with an account.

CREATE TABLE oidc_clients (
    id                        TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    secret_hash               TEXT    NOT NULL DEFAULT '',
    name                      TEXT    NOT NULL DEFAULT '',
    redirect_uris             TEXT    NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT    NOT NULL DEFAULT '[]',
    backchannel_logout_uri    TEXT    NOT NULL DEFAULT '',
    public                    BIGINT  NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    first_party               BIGINT  NOT NULL DEFAULT 0 CHECK (first_party IN (0, 1)),
    created_at                BIGINT  NOT NULL
);
-- ListClients' order.
CREATE INDEX oidc_clients_created_at ON oidc_clients (created_at, id);

-- account_id is NULL until the customer has signed in for the request;
-- code_hash is '' until a code is issued, and unique once it is.
CREATE TABLE oidc_auth_requests (
    id                    TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    client_id             TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    redirect_uri          TEXT    NOT NULL DEFAULT '',
    state                 TEXT    NOT NULL DEFAULT '',
    nonce                 TEXT    NOT NULL DEFAULT '',
    scopes                TEXT    NOT NULL DEFAULT '[]',
    response_type         TEXT    NOT NULL DEFAULT '',
    response_mode         TEXT    NOT NULL DEFAULT '',
    code_challenge        TEXT    NOT NULL DEFAULT '',
    code_challenge_method TEXT    NOT NULL DEFAULT '',
    prompt                TEXT    NOT NULL DEFAULT '[]',
    max_age               BIGINT  NOT NULL DEFAULT -1, -- seconds; -1 when absent
    login_hint            TEXT    NOT NULL DEFAULT '',
    ui_locales            TEXT    NOT NULL DEFAULT '[]',
    account_id            TEXT    REFERENCES accounts (id) ON DELETE CASCADE,
    auth_time             BIGINT  NOT NULL DEFAULT 0,
    amr                   TEXT    NOT NULL DEFAULT '[]',
    session_hash          TEXT    NOT NULL DEFAULT '',
    done                  BIGINT  NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    code_hash             TEXT    NOT NULL DEFAULT '',
    created_at            BIGINT  NOT NULL,
    expires_at            BIGINT  NOT NULL
);
-- AuthRequestByCode. Partial, so the many requests without a code yet do not
-- collide on ''; queries repeat the condition so that SQLite may use it.
CREATE UNIQUE INDEX oidc_auth_requests_code ON oidc_auth_requests (code_hash) WHERE code_hash <> '';
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);
CREATE INDEX oidc_auth_requests_account ON oidc_auth_requests (account_id);
CREATE INDEX oidc_auth_requests_client ON oidc_auth_requests (client_id);

-- Authorization codes already exchanged, so that a replay is recognised and
-- the grant it was exchanged for revoked. No foreign key to oidc_grants: the
-- code is spent before its grant is created, and a replay must still be told
-- apart from a first use after the grant is gone.
CREATE TABLE oidc_spent_codes (
    code_hash  TEXT    NOT NULL PRIMARY KEY CHECK (code_hash <> ''),
    grant_id   TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX oidc_spent_codes_expires ON oidc_spent_codes (expires_at);

-- revoked_at is 0 while the grant is live.
CREATE TABLE oidc_grants (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    client_id    TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    account_id   TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scopes       TEXT    NOT NULL DEFAULT '[]',
    auth_time    BIGINT  NOT NULL DEFAULT 0,
    amr          TEXT    NOT NULL DEFAULT '[]',
    session_hash TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    revoked_at   BIGINT  NOT NULL DEFAULT 0
);
-- RevokeGrantsOf by account (and client), or by portal session.
CREATE INDEX oidc_grants_account ON oidc_grants (account_id, client_id);
CREATE INDEX oidc_grants_session ON oidc_grants (session_hash);
CREATE INDEX oidc_grants_client ON oidc_grants (client_id);

-- Tokens name their grant and go with it. client_id and account_id repeat the
-- grant's, so a token is read in one row.
CREATE TABLE oidc_access_tokens (
    id         TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    grant_id   TEXT    NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    account_id TEXT    NOT NULL,
    scopes     TEXT    NOT NULL DEFAULT '[]',
    audience   TEXT    NOT NULL DEFAULT '[]',
    expires_at BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX oidc_access_tokens_grant ON oidc_access_tokens (grant_id);
CREATE INDEX oidc_access_tokens_expires ON oidc_access_tokens (expires_at);

-- used_at is 0 until the token is exchanged for its successor.
CREATE TABLE oidc_refresh_tokens (
    hash       TEXT    NOT NULL PRIMARY KEY CHECK (hash <> ''),
    grant_id   TEXT    NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    account_id TEXT    NOT NULL,
    scopes     TEXT    NOT NULL DEFAULT '[]',
    expires_at BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    used_at    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);
CREATE INDEX oidc_refresh_tokens_expires ON oidc_refresh_tokens (expires_at);

-- retired_at is 0 while the key signs; expires_at 0 while it is published
-- without an end. A handful of rows: no index.
CREATE TABLE oidc_signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    algorithm   TEXT    NOT NULL,
    private_key TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    retired_at  BIGINT  NOT NULL DEFAULT 0,
    expires_at  BIGINT  NOT NULL DEFAULT 0
);
