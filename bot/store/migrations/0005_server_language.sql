-- The language of a server's public messages (feed, pings, link requests): 'auto' follows the
-- server's preferred locale in Discord, otherwise a catalogue language code ('en', 'fr', ...).
-- Rows from before this version get 'auto', which is what those servers saw: English, until
-- the catalogue had other languages.
ALTER TABLE guild_settings ADD COLUMN language TEXT NOT NULL DEFAULT 'auto';
