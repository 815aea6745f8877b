-- Maintenance windows an operator scheduled. Rows are never deleted: a
-- cancelled window keeps its row with cancelled_at set.
CREATE TABLE maintenance_windows (
    id           TEXT    PRIMARY KEY CHECK (id <> ''),
    start_at     BIGINT  NOT NULL,
    end_at       BIGINT  NOT NULL CHECK (end_at > start_at),
    reason_ja    TEXT    NOT NULL DEFAULT '',
    reason_en    TEXT    NOT NULL DEFAULT '',
    created_by   TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    cancelled_at BIGINT  NOT NULL DEFAULT 0
);
-- The live schedule: the windows not cancelled, by when they end.
CREATE INDEX maintenance_windows_live ON maintenance_windows (end_at) WHERE cancelled_at = 0;
