-- The sid a grant's ID tokens carry and its back-channel logout tokens name
-- (OpenID Connect Back-Channel Logout 1.0), kept with the grant so that it
-- stays the one its site saw, whatever secret_key is later. Empty for a
-- grant made before this version: its sid is still derived with the
-- secret key, as it was when its ID token was issued.
ALTER TABLE oidc_grants ADD COLUMN oidc_sid TEXT NOT NULL DEFAULT '';
