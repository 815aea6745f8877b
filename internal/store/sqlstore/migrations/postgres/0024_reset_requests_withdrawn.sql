-- A requester may withdraw their own open reset request ('withdrawn').
ALTER TABLE reset_requests DROP CONSTRAINT reset_requests_decision_check;
ALTER TABLE reset_requests ADD CONSTRAINT reset_requests_decision_check
    CHECK (decision IN ('', 'approved', 'rejected', 'withdrawn'));
