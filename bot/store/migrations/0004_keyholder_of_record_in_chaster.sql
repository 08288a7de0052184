-- The Chaster actor of a keyholder action now depends on who the keyholder of record is, not
-- only on whether the lock has a keyholder: "keyholder" only when the keyholder of record is the
-- lock's keyholder in Chaster (1); "extension" otherwise (0: a self-lock, or someone the wearer
-- accepted), so Chaster never shows an action in the name of a keyholder who did not take it.
-- NULL until known: a link whose lock has a keyholder reads the session once to find out.
ALTER TABLE session_links RENAME COLUMN lock_has_keyholder TO keyholder_is_lock_keyholder;
UPDATE session_links SET keyholder_is_lock_keyholder = NULL WHERE keyholder_is_lock_keyholder = 1;
