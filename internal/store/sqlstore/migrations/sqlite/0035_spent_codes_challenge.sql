-- The PKCE challenge of a spent code's request (code_challenge, S256), so
-- that a replay of the code counts as its client's, and revokes the grant
-- its exchange gave, only when it answers the challenge with its verifier
-- as the exchange did: a public client has no secret to tell it by. Empty
-- for a request without one; a code spent before this version has none
-- either, and its replay by a public client revokes nothing (spent codes
-- are kept half an hour).
ALTER TABLE oidc_spent_codes ADD COLUMN code_challenge TEXT NOT NULL DEFAULT '';
