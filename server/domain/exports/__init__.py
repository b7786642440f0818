"""Exports a user takes away: timers as CSV or JSON Lines, schedules as iCalendar, the account."""
