"""The Discord side: the bot and its command tree, the catalogue's voice, the feed's looks."""
