-- How each session's customer proved who they are (RFC 8176 values, space
-- separated), for the amr claim of the ID tokens issued from it.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
