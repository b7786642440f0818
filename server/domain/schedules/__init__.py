"""Schedules: series, their recurrence, occurrences and the iCalendar feed."""
