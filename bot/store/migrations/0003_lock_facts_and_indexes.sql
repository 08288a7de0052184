-- Whether the linked Chaster lock has a keyholder decides the actor of every keyholder action
-- ("keyholder", or "extension" on a self-lock). Kept with the link so an action does not
-- have to read the session first; refreshed by every sync. NULL for links made before this
-- column existed: those read the session once.
ALTER TABLE session_links ADD COLUMN lock_has_keyholder INTEGER
    CHECK (lock_has_keyholder IS NULL OR lock_has_keyholder IN (0, 1));

-- /task status for a wearer without an open task reads the link's latest task.
CREATE INDEX tasks_by_link ON tasks (link_id, id);
