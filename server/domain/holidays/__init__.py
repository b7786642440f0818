"""Holidays: the offline engine, its reads and feed, and a user's calendars overlaid on windows."""
