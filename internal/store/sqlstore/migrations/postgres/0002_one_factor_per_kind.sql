-- One factor of each kind per account: enrolling in two tabs at once must not
-- leave two authenticator apps, one of them perhaps unknown to the customer.
CREATE UNIQUE INDEX factors_account_kind ON factors (account_id, kind);
