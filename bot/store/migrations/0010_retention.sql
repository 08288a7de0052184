-- How long a server keeps its finished tasks, audit log and old link requests, in days;
-- NULL (the default, and every server before this version) keeps them forever.
ALTER TABLE guild_settings ADD COLUMN retention_days INTEGER
    CHECK (retention_days IS NULL OR retention_days BETWEEN 30 AND 3650);
