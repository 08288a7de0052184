-- A keyholder's task library, per server: entries they can assign by name, draw at random or
-- put to a vote. Entries belong to their keyholder: every query names the server and keyholder.
CREATE TABLE library_entries (
    id                    INTEGER PRIMARY KEY,
    guild_id              INTEGER NOT NULL,
    keyholder_id          INTEGER NOT NULL,
    description           TEXT    NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    points                INTEGER NOT NULL CHECK (points >= 0),
    duration_seconds      INTEGER CHECK (duration_seconds IS NULL
                                         OR duration_seconds BETWEEN 60 AND 86400),
    verification_required INTEGER NOT NULL DEFAULT 0 CHECK (verification_required IN (0, 1)),
    tag                   TEXT    CHECK (tag IS NULL OR length(tag) BETWEEN 1 AND 32),
    created_at            TEXT    NOT NULL,
    -- The same text twice is one entry: an import skips what is already there.
    UNIQUE (guild_id, keyholder_id, description)
);

-- How a task came to be: NULL for one a person typed (or assigned inside Chaster), otherwise
-- drawn at random from the keyholder's library or the lock's own list, or won by a vote.
-- Tasks from before this version have NULL, which is what they were.
ALTER TABLE tasks ADD COLUMN origin TEXT
    CHECK (origin IS NULL OR origin IN ('random-library', 'random-lock', 'vote'));
