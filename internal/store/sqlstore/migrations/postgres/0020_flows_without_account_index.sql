-- A flow's account is looked for only when the account is erased, which
-- then reads the whole flows table: the sign-ins in progress and those
-- left unfinished within flow_ttl, a small table. The index cost every
-- sign-in two writes of a page at a random place (the flow made, then
-- deleted, each in a commit of its own).
DROP INDEX flows_account;
