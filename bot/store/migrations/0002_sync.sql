-- Durability and sync with Chaster.

-- When the "timer finished" notice went out: set once, so a restart never repeats it.
ALTER TABLE tasks ADD COLUMN timer_notified_at TEXT;
CREATE INDEX tasks_pending_timers
    ON tasks (timer_ends_at) WHERE state = 'timer_running' AND timer_notified_at IS NULL;

-- The channel /link ran in: where a task assigned inside Chaster is shown when the server
-- has no feed channel.
ALTER TABLE session_links ADD COLUMN channel_id INTEGER;

-- Chaster webhook deliveries already handled, by requestId (Chaster retries a delivery
-- with the same id for about ten minutes).
CREATE TABLE webhook_deliveries (
    request_id  TEXT PRIMARY KEY,
    event       TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (received_at);
