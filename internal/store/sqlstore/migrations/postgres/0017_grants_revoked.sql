-- The sweep deletes grants revoked more than thirty days ago a few hundred
-- at a time; this index finds each batch without a scan of every grant.
-- Only revoked grants are in it.
CREATE INDEX oidc_grants_revoked ON oidc_grants (revoked_at) WHERE revoked_at <> 0;
