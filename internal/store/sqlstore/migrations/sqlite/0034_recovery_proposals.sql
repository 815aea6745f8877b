-- An early approval of a recovery request takes two operators: the first,
-- who verified the customer, proposes it with how (proposed_reason); a
-- second approves it (approved_by). Requests from before read back with no
-- proposal: those waiting wait as before, those approved stay approved.
ALTER TABLE recovery_requests ADD COLUMN proposed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE recovery_requests ADD COLUMN proposed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recovery_requests ADD COLUMN proposed_reason TEXT NOT NULL DEFAULT '';
