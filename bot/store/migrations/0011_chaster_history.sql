-- Entries the bot writes in a lock's Chaster history, naming who acted in Discord. Each is
-- queued (under a key unique to the action) before it is sent, so it is sent once, across
-- restarts: 'sending' is set just before the call, and after a crash the lock's history
-- settles it.
ALTER TABLE guild_settings ADD COLUMN chaster_history INTEGER NOT NULL DEFAULT 1
    CHECK (chaster_history IN (0, 1));

CREATE TABLE chaster_logs (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    link_id     INTEGER NOT NULL REFERENCES session_links (id),
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    icon        TEXT    NOT NULL,
    color       TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    created_at  TEXT    NOT NULL,
    sending_at  TEXT,
    sent_at     TEXT
);
CREATE INDEX chaster_logs_unsent ON chaster_logs (id) WHERE state IN ('pending', 'sending');
