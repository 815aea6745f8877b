-- The customer sites list a customer's applications, contracts and
-- invoices a page at a time, newest first, the number breaking ties
-- (ORDER BY ... DESC, number DESC LIMIT ? OFFSET ?). With the number in the
-- index a page is read in the index's order, without sorting every record
-- of the account first; the old indexes are prefixes of the new, so they go.
CREATE INDEX IF NOT EXISTS applications_account_page ON applications (account_id, applied_at, number);
DROP INDEX IF EXISTS applications_account;
CREATE INDEX IF NOT EXISTS contracts_account_page ON contracts (account_id, start_date, number);
DROP INDEX IF EXISTS contracts_account;
CREATE INDEX IF NOT EXISTS invoices_account_page ON invoices (account_id, issued_at, number);
DROP INDEX IF EXISTS invoices_account;
