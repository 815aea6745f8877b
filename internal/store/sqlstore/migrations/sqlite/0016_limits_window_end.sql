-- When each counter's window ends (unix ms), so that counters of keys never
-- hit again (a spray of made-up e-mail addresses leaves one per address) can
-- be swept once their window is over. Hit sets it; counters from before this
-- migration never recorded their window, so they get the longest one any
-- limit could sensibly have, thirty days from their start.
ALTER TABLE limits ADD COLUMN window_end INTEGER NOT NULL DEFAULT 0;
UPDATE limits SET window_end = window_start + 2592000000;
