-- FactorsOf reads an account's factors in the order they were added, by
-- creation time and then id; with the id in the index too, they come in
-- that order straight from it, without a sort at every read (two each
-- sign-in).
DROP INDEX factors_account;
CREATE INDEX factors_account ON factors (account_id, created_at, id);
