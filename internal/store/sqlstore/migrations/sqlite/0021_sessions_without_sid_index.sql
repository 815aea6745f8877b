-- No statement looks a portal session up by its sid: the sid goes to the
-- sites in the ID tokens and to the grants and site sessions made with
-- it, which are found by it there. The index cost every sign-in a write of
-- a page at a random place (a new session's sid).
DROP INDEX sessions_sid;
