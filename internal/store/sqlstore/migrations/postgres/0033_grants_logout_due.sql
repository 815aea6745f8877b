-- While the site of a grant revoked because its portal session ended (a
-- sign-out, a logout at end_session, a browser ended from the security
-- page, and the endings of every session of an account: a new password, a
-- 2FA reset, a lock, a "not me" report, an erasure) is still to be told by
-- back-channel logout: when its logout token was last tried, the
-- revocation counting as the first try, since the process that revokes
-- posts at once. 0 when nothing is due: a grant revoked for another reason
-- (a client revoking its refresh token, a reused one), of a session
-- without a SID or of a client without a back-channel logout URI, or one
-- whose site was told or given up on (ClaimLogouts, LogoutDone). It is set
-- in the transaction that revokes the grant, so a process that stops
-- before its post leaves the notice due for the sweep of any node.
ALTER TABLE oidc_grants ADD COLUMN logout_tried_at BIGINT NOT NULL DEFAULT 0;
-- The grants revoked before this version are due nothing: their sites were
-- told then, or the notice was lost before there was a queue.
--
-- ClaimLogouts reads only the grants whose site is due a logout token,
-- the longest untried first.
CREATE INDEX oidc_grants_logout_due ON oidc_grants (logout_tried_at, id) WHERE logout_tried_at <> 0;
