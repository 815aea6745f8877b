-- When the portal session a grant came from ended on its own (it expired)
-- and the sweep told the grant's site by back-channel logout, as a sign-out
-- does (GrantsOfEndedSessions, SessionGrantEnded); 0 until then. A grant is
-- marked only after its site was told, so a process that stops in between
-- tells the site again at its next sweep rather than never.
ALTER TABLE oidc_grants ADD COLUMN session_ended_at BIGINT NOT NULL DEFAULT 0;
-- The live grants of sessions already gone before this version: when they
-- ended is unknown, and their sites' sessions long over, so they are not
-- told now. Those of sessions still stored (live, or expired and not yet
-- swept) are.
UPDATE oidc_grants SET session_ended_at = CASE WHEN created_at > 0 THEN created_at ELSE 1 END
WHERE revoked_at = 0 AND session_hash <> '' AND NOT EXISTS (
    SELECT 1 FROM sessions s WHERE s.account_id = oidc_grants.account_id AND s.sid = oidc_grants.session_hash);
-- GrantsOfEndedSessions reads only the grants whose site may yet have to
-- be told, oldest first.
CREATE INDEX oidc_grants_session_open ON oidc_grants (created_at, id)
    WHERE revoked_at = 0 AND session_ended_at = 0 AND session_hash <> '';
