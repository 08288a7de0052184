-- A server's vote on a wearer's next task: a Discord poll among a few tasks drawn from the
-- keyholder's library or the lock's list. Its end is stored so it is acted on once, even when
-- the bot was down at that moment: 'open' until it ends, 'deciding' once the winner is chosen
-- (and being assigned), 'ended' with what came of it.
CREATE TABLE votes (
    id          INTEGER PRIMARY KEY,
    link_id     INTEGER NOT NULL REFERENCES session_links (id),
    guild_id    INTEGER NOT NULL,
    wearer_id   INTEGER NOT NULL,
    started_by  INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    message_id  INTEGER,
    -- JSON: [{"description", "points", "duration_seconds", "verification_required", "from_lock"}]
    options     TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    ends_at     TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'deciding', 'ended')),
    winner      INTEGER,
    winner_votes INTEGER,
    outcome     TEXT    CHECK (outcome IS NULL
                               OR outcome IN ('assigned', 'open-task', 'unlinked', 'failed',
                                              'cancelled')),
    task_id     INTEGER REFERENCES tasks (id),
    ended_at    TEXT
);
-- One vote at a time per wearer in a server.
CREATE UNIQUE INDEX votes_one_per_wearer ON votes (guild_id, wearer_id) WHERE state != 'ended';
CREATE INDEX votes_pending ON votes (ends_at) WHERE state != 'ended';
