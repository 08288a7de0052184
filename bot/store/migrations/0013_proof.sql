-- Photo proof judged in Chaster: a task may need a photo that the lock's keyholder or the
-- community reviews there (a standalone peer review) before it counts as done.
ALTER TABLE tasks ADD COLUMN proof TEXT CHECK (proof IN ('keyholder', 'community'));
ALTER TABLE library_entries ADD COLUMN proof TEXT CHECK (proof IN ('keyholder', 'community'));
ALTER TABLE schedules ADD COLUMN proof TEXT CHECK (proof IN ('keyholder', 'community'));
-- A community review's length and vote cap, per link (NULL: Chaster's own defaults).
ALTER TABLE session_links ADD COLUMN proof_delay_seconds INTEGER;
ALTER TABLE session_links ADD COLUMN proof_max_votes INTEGER;

-- One photo sent for a task, and its review in Chaster. The photo itself is never kept: only
-- Chaster's id for the uploaded file and the review's id. A row is written before Chaster is
-- asked anything, so a crash or a lost answer is settled from Chaster's review history
-- instead of sending a second review.
CREATE TABLE proof_reviews (
    id                 INTEGER PRIMARY KEY,
    task_id            INTEGER NOT NULL REFERENCES tasks (id),
    link_id            INTEGER NOT NULL REFERENCES session_links (id),
    chaster_session_id TEXT    NOT NULL,
    audience           TEXT    NOT NULL CHECK (audience IN ('keyholder', 'community')),
    state              TEXT    NOT NULL CHECK (state IN (
                           'uploading', 'creating', 'unknown', 'open',
                           'verified', 'rejected', 'failed')),
    submitted_by       INTEGER NOT NULL,   -- Discord user
    submitted_at       TEXT    NOT NULL,
    sent_at            TEXT,               -- when the review's creation was sent
    file_id            TEXT,
    review_id          TEXT    UNIQUE,
    ends_at            TEXT,
    ended_at           TEXT,
    votes_verified     INTEGER,
    votes_rejected     INTEGER,
    reasons            TEXT,               -- JSON list of the rejection reasons' texts
    settled_at         TEXT                -- when the task was closed after the verdict
);
-- A task has at most one photo on its way or judged; a failed attempt leaves room for another.
CREATE UNIQUE INDEX proof_reviews_one_per_task ON proof_reviews (task_id)
    WHERE state <> 'failed';
CREATE INDEX proof_reviews_unsettled ON proof_reviews (state) WHERE settled_at IS NULL;
