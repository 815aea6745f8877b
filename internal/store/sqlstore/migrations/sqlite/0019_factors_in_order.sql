-- FactorsOf reads an account's factors in the order they were added, by
-- creation time and then id; with the id in the index too, SQLite reads
-- them in that order straight from it instead of sorting them in a
-- temporary B-tree at every read (two each sign-in).
DROP INDEX factors_account;
CREATE INDEX factors_account ON factors (account_id, created_at, id);
