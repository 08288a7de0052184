-- What a task's feed message carries for acting on it: 'buttons', 'reactions' or 'both'.
-- A server picks it for new feed messages (`/settings controls`, default 'both'); each task
-- records what its message was posted with, so later edits keep that message's controls.
-- Feed messages from before this version carry reactions only: their tasks get NULL, which
-- reads as 'reactions'.
ALTER TABLE guild_settings ADD COLUMN controls TEXT NOT NULL DEFAULT 'both'
    CHECK (controls IN ('buttons', 'reactions', 'both'));
ALTER TABLE tasks ADD COLUMN feed_controls TEXT
    CHECK (feed_controls IS NULL OR feed_controls IN ('buttons', 'reactions', 'both'));
