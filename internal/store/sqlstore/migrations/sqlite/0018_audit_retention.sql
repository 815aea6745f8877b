-- The audit log stays append-only, but events older than 90 days may be
-- deleted: the sweep removes those past audit_retention_days, when an
-- operator set it. A younger event is refused as every change always was;
-- times are unix milliseconds, compared with this database's clock.
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.at >= (CAST(strftime('%s', 'now') AS INTEGER) - 90 * 86400) * 1000
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: only events older than 90 days may be deleted');
END;
