-- 1 while an operator's password is one an admin was shown (a new
-- operator's first, or a reset one): the console asks for their own first.
ALTER TABLE operators ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;
