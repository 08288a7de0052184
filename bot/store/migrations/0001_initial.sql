-- Initial schema. Discord ids are snowflakes (fit in SQLite's 64-bit INTEGER).
-- Times are ISO-8601 UTC text ("2026-01-01T12:00:00.000000+00:00").

-- Per-server settings; a missing row means the defaults.
CREATE TABLE guild_settings (
    guild_id            INTEGER PRIMARY KEY,
    feed_channel_id     INTEGER,
    wearer_can_complete INTEGER NOT NULL DEFAULT 0 CHECK (wearer_can_complete IN (0, 1)),
    updated_at          TEXT NOT NULL
);

-- A Chaster extension session linked to a wearer in one server. Unlinking closes the
-- link instead of deleting it, so the tasks that point at it keep their history.
CREATE TABLE session_links (
    id                 INTEGER PRIMARY KEY,
    guild_id           INTEGER NOT NULL,
    wearer_id          INTEGER NOT NULL,
    keyholder_id       INTEGER NOT NULL,   -- the keyholder of record (Discord user)
    chaster_session_id TEXT    NOT NULL,
    lock_id            TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    closed_at          TEXT,
    closed_by          INTEGER,            -- Discord user, or NULL when the bot closed it
    close_reason       TEXT
);
-- One open link per (server, wearer).
CREATE UNIQUE INDEX session_links_one_open
    ON session_links (guild_id, wearer_id) WHERE closed_at IS NULL;
CREATE INDEX session_links_by_session ON session_links (chaster_session_id);

-- A /link made by someone who is not the lock's keyholder waits for the wearer's consent.
CREATE TABLE link_requests (
    id                 INTEGER PRIMARY KEY,
    guild_id           INTEGER NOT NULL,
    channel_id         INTEGER NOT NULL,
    message_id         INTEGER,            -- set once the request message is posted
    wearer_id          INTEGER NOT NULL,
    requested_by       INTEGER NOT NULL,
    chaster_session_id TEXT    NOT NULL,
    lock_id            TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    expires_at         TEXT    NOT NULL,
    state              TEXT    NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'accepted', 'expired', 'cancelled')),
    resolved_at        TEXT
);
CREATE UNIQUE INDEX link_requests_by_message
    ON link_requests (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX link_requests_pending ON link_requests (state, expires_at);

CREATE TABLE tasks (
    id                        INTEGER PRIMARY KEY,
    link_id                   INTEGER NOT NULL REFERENCES session_links (id),
    description               TEXT    NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    points                    INTEGER NOT NULL CHECK (points >= 0),
    verification_required     INTEGER NOT NULL DEFAULT 0 CHECK (verification_required IN (0, 1)),
    duration_seconds          INTEGER CHECK (duration_seconds IS NULL
                                             OR duration_seconds BETWEEN 60 AND 86400),
    state                     TEXT    NOT NULL DEFAULT 'assigned'
                              CHECK (state IN ('assigned', 'timer_running', 'awaiting_confirmation',
                                               'completed', 'failed')),
    assigned_by               INTEGER,     -- Discord user; NULL when assigned inside Chaster
    assigned_at               TEXT    NOT NULL,
    timer_started_by          INTEGER,
    timer_started_at          TEXT,
    timer_ends_at             TEXT,
    confirmation_requested_by INTEGER,
    confirmation_requested_at TEXT,
    closed_by                 INTEGER,
    closed_at                 TEXT,
    points_total              INTEGER,     -- wearer's Chaster points after completion, if reported
    points_required           INTEGER,
    feed_channel_id           INTEGER,
    feed_message_id           INTEGER,
    updated_at                TEXT    NOT NULL,
    CHECK ((state IN ('completed', 'failed')) = (closed_at IS NOT NULL))
);
-- A wearer has at most one open task: Chaster allows one current task per lock.
CREATE UNIQUE INDEX tasks_one_open_per_link
    ON tasks (link_id) WHERE state IN ('assigned', 'timer_running', 'awaiting_confirmation');
CREATE UNIQUE INDEX tasks_by_feed_message
    ON tasks (feed_message_id) WHERE feed_message_id IS NOT NULL;

-- Every action attempted, whatever its outcome.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT    NOT NULL,
    guild_id  INTEGER,
    user_id   INTEGER,                     -- Discord user; NULL for the bot's own actions
    action    TEXT    NOT NULL,
    result    TEXT    NOT NULL CHECK (result IN ('ok', 'refused', 'error')),
    detail    TEXT    NOT NULL DEFAULT '',
    link_id   INTEGER REFERENCES session_links (id),
    task_id   INTEGER REFERENCES tasks (id)
);
CREATE INDEX audit_log_by_guild ON audit_log (guild_id, at);
