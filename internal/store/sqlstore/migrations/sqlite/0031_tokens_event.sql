-- What a one-time link is about where its purpose alone does not say: the
-- event of the security notice a "this was not me" link came in, so the
-- report can tell the customer what to do next (a second factor they do
-- not know may be on the account) and tell operators what was reported.
-- Empty for every other link, and for the links made before this version.
ALTER TABLE one_time_tokens ADD COLUMN event TEXT NOT NULL DEFAULT '';
