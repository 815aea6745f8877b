-- The language the customer last used the portal in, for the mails sent
-- without a request of theirs to take it from (an operator's reset, an
-- early approval, a resent activation mail). Accounts that never chose
-- one get Japanese, the product's first language.
ALTER TABLE accounts ADD COLUMN lang TEXT NOT NULL DEFAULT 'ja';
