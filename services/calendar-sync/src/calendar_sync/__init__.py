"""calendar-sync: calendars, their events and the bots scheduled from them."""
