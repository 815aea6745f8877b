-- The hash of the binding value (a cookie's) of the browser that started an
-- authorization request: only that browser may sign it in, consent to it or
-- take its code. '' for the requests stored before, which any browser may
-- go on with for what is left of their 30 minutes, as with the nodes not
-- yet upgraded that store them so.
ALTER TABLE oidc_auth_requests ADD COLUMN browser_hash TEXT NOT NULL DEFAULT '';
