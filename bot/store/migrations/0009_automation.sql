-- Automation with a safeword: schedules, deadlines, consequences, reminders, direct messages
-- and pause. Every moment the bot acts on is stored, with what it did about it, so each is
-- acted on once, across restarts and crashes.

-- The server's time zone for schedules that name none (an IANA name).
ALTER TABLE guild_settings ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';

-- The wearer's safeword: while paused_at is set, no schedule, deadline, reminder or
-- consequence of the link does anything. Links from before this version were not paused.
ALTER TABLE session_links ADD COLUMN paused_at TEXT;
ALTER TABLE session_links ADD COLUMN paused_by INTEGER;
ALTER TABLE session_links ADD COLUMN pause_reason TEXT;
-- How long before a deadline the wearer is reminded (the keyholder sets it; 15 minutes).
ALTER TABLE session_links ADD COLUMN remind_before_seconds INTEGER NOT NULL DEFAULT 900
    CHECK (remind_before_seconds BETWEEN 60 AND 604800);

ALTER TABLE library_entries ADD COLUMN deadline_seconds INTEGER
    CHECK (deadline_seconds IS NULL OR deadline_seconds BETWEEN 60 AND 604800);

-- A keyholder's routine: a named library entry or a random draw, at local times in a zone.
-- next_at is the next occasion (UTC); a schedule is never deleted, only removed, so its
-- occasions keep their history.
CREATE TABLE schedules (
    id               INTEGER PRIMARY KEY,
    link_id          INTEGER NOT NULL REFERENCES session_links (id),
    guild_id         INTEGER NOT NULL,
    wearer_id        INTEGER NOT NULL,
    created_by       INTEGER NOT NULL,
    -- Not a foreign key: removing the entry from the library must stay possible; the
    -- schedule's next occasion then says it is gone.
    entry_id         INTEGER,
    source           TEXT CHECK (source IS NULL OR source IN ('library', 'lock', 'both')),
    tag              TEXT CHECK (tag IS NULL OR length(tag) BETWEEN 1 AND 32),
    every            TEXT NOT NULL CHECK (every IN ('day', 'weekday', 'week', 'hours')),
    hours            INTEGER CHECK (hours IS NULL OR hours BETWEEN 1 AND 24),
    at               TEXT NOT NULL,
    weekday          INTEGER CHECK (weekday IS NULL OR weekday BETWEEN 0 AND 6),
    timezone         TEXT NOT NULL,
    deadline_seconds INTEGER CHECK (deadline_seconds IS NULL
                                    OR deadline_seconds BETWEEN 60 AND 604800),
    created_at       TEXT NOT NULL,
    next_at          TEXT NOT NULL,
    removed_at       TEXT,
    CHECK ((entry_id IS NULL) != (source IS NULL))
);
CREATE INDEX schedules_active ON schedules (next_at) WHERE removed_at IS NULL;
CREATE INDEX schedules_of_link ON schedules (link_id) WHERE removed_at IS NULL;

-- One row per occasion the bot acted on, claimed before anything is sent to Chaster: the
-- primary key is what makes an occasion fire at most once. 'claimed' is an occasion in
-- progress (a crash left it so when it is still there at start-up); `drawn` is the task text
-- being assigned, kept to tell afterwards whether it reached Chaster.
CREATE TABLE schedule_occasions (
    schedule_id INTEGER NOT NULL REFERENCES schedules (id),
    due_at      TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('claimed', 'assigned', 'skipped', 'paused',
                                                  'missed', 'failed', 'interrupted')),
    drawn       TEXT,
    task_id     INTEGER REFERENCES tasks (id),
    settled_at  TEXT,
    PRIMARY KEY (schedule_id, due_at)
);
CREATE INDEX schedule_occasions_claimed ON schedule_occasions (state) WHERE state = 'claimed';

-- A task's deadline (UTC), moved later by the time its link spent paused; when the bot
-- decided it was missed (set before it fails the task in Chaster); when the wearer was
-- reminded; and the schedule that gave it.
ALTER TABLE tasks ADD COLUMN deadline_at TEXT;
ALTER TABLE tasks ADD COLUMN deadline_missed_at TEXT;
ALTER TABLE tasks ADD COLUMN reminded_at TEXT;
ALTER TABLE tasks ADD COLUMN schedule_id INTEGER REFERENCES schedules (id);
CREATE INDEX tasks_open_deadlines ON tasks (deadline_at)
    WHERE deadline_at IS NOT NULL
      AND state IN ('assigned', 'timer_running', 'awaiting_confirmation');

-- What happens to the lock when one of the link's tasks fails or misses its deadline.
CREATE TABLE penalties (
    link_id  INTEGER NOT NULL REFERENCES session_links (id),
    occasion TEXT    NOT NULL CHECK (occasion IN ('fail', 'deadline')),
    action   TEXT    NOT NULL CHECK (action IN ('add_time', 'freeze', 'pillory')),
    seconds  INTEGER CHECK (seconds IS NULL OR seconds BETWEEN 60 AND 604800),
    reason   TEXT    CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 200),
    set_by   INTEGER NOT NULL,
    set_at   TEXT    NOT NULL,
    PRIMARY KEY (link_id, occasion)
);

-- Each consequence applied to a lock, recorded before Chaster is asked: one per task.
-- 'applying' is set just before the call, so after a crash the lock's history settles it.
CREATE TABLE consequences (
    id          INTEGER PRIMARY KEY,
    task_id     INTEGER NOT NULL UNIQUE REFERENCES tasks (id),
    link_id     INTEGER NOT NULL REFERENCES session_links (id),
    occasion    TEXT    NOT NULL CHECK (occasion IN ('fail', 'deadline')),
    action      TEXT    NOT NULL CHECK (action IN ('add_time', 'freeze', 'pillory')),
    seconds     INTEGER,
    reason      TEXT,
    state       TEXT    NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'applying', 'applied', 'refused', 'unknown',
                                 'cancelled')),
    created_at  TEXT    NOT NULL,
    applying_at TEXT,
    settled_at  TEXT,
    detail      TEXT
);
CREATE INDEX consequences_unsettled ON consequences (id) WHERE state IN ('pending', 'applying');

-- Per person and server: whether they want direct messages, and when Discord last refused
-- one (their DMs are closed: the bot stops trying until they turn it on again).
CREATE TABLE notify_prefs (
    guild_id      INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    dm            INTEGER NOT NULL DEFAULT 0 CHECK (dm IN (0, 1)),
    dms_closed_at TEXT,
    updated_at    TEXT    NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
