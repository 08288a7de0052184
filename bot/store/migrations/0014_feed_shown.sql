-- Whether a task's feed message shows its current state: `feed_shown_at` is the task's
-- `updated_at` that the message last showed, and NULL once the task has changed since. A task
-- left NULL (an edit Discord refused, a crash between the change and the edit, a message
-- deleted) is shown again by the feed's repair pass. Rows from before this column are taken as
-- shown.
ALTER TABLE tasks ADD COLUMN feed_shown_at TEXT;
UPDATE tasks SET feed_shown_at = updated_at;
-- Every change to a task sets `updated_at`; each one leaves its message to be shown again.
-- (Recording the message itself, or that it was shown, leaves `updated_at` alone.)
CREATE TRIGGER tasks_feed_unshown AFTER UPDATE OF updated_at ON tasks
BEGIN
    UPDATE tasks SET feed_shown_at = NULL WHERE id = NEW.id;
END;
CREATE INDEX tasks_feed_unshown ON tasks (updated_at) WHERE feed_shown_at IS NULL;
