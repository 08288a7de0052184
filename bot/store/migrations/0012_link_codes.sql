-- Linking by a one-time code from the extension's main page in Chaster. Typing the code in
-- /link proves that the typist is the lock's wearer or keyholder, without Chaster's Discord
-- connection. Only a hash of each code is kept: the table never holds a code that still works.
CREATE TABLE link_codes (
    code_hash          TEXT    PRIMARY KEY,
    chaster_session_id TEXT    NOT NULL,
    lock_id            TEXT    NOT NULL,
    role               TEXT    NOT NULL CHECK (role IN ('wearer', 'keyholder')),
    chaster_user_id    TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    expires_at         TEXT    NOT NULL,
    used_at            TEXT,
    used_by            INTEGER,            -- Discord user
    used_in            INTEGER             -- Discord server
);
CREATE INDEX link_codes_by_session ON link_codes (chaster_session_id, role);

-- Codes typed that did not work, per person: past a few in a short while, the person must
-- wait, so a code cannot be found by guessing.
CREATE TABLE link_code_misses (
    user_id INTEGER NOT NULL,
    at      TEXT    NOT NULL
);
CREATE INDEX link_code_misses_by_user ON link_code_misses (user_id, at);

-- Who a code proved to be whom, in one server, while the link waits for the other party.
CREATE TABLE lock_proofs (
    guild_id           INTEGER NOT NULL,
    chaster_session_id TEXT    NOT NULL,
    role               TEXT    NOT NULL CHECK (role IN ('wearer', 'keyholder')),
    user_id            INTEGER NOT NULL,   -- Discord user
    chaster_user_id    TEXT    NOT NULL,
    proven_at          TEXT    NOT NULL,
    expires_at         TEXT    NOT NULL,
    PRIMARY KEY (guild_id, chaster_session_id, role)
);

-- The keyholder of record's Chaster user id, when a keyholder's code proved it: they act as
-- "keyholder" in Chaster while the lock's keyholder is that user.
ALTER TABLE session_links ADD COLUMN keyholder_chaster_id TEXT;
-- Defaults the lock's keyholder saved on the extension's configuration page, copied when the
-- link was made: whether the wearer completes without confirmation (NULL: the server's
-- setting decides) and the deadline of a task given without one (NULL: none).
ALTER TABLE session_links ADD COLUMN wearer_can_complete INTEGER
    CHECK (wearer_can_complete IS NULL OR wearer_can_complete IN (0, 1));
ALTER TABLE session_links ADD COLUMN default_deadline_seconds INTEGER
    CHECK (default_deadline_seconds IS NULL OR default_deadline_seconds BETWEEN 60 AND 604800);
