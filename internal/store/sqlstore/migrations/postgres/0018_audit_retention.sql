-- The audit log stays append-only, but events older than 90 days may be
-- deleted: the sweep removes those past audit_retention_days, when an
-- operator set it. A younger event is refused as every change always was;
-- times are unix milliseconds, compared with this database's clock.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 90::bigint * 86400000 THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: only events older than 90 days may be deleted';
END;
$$;
