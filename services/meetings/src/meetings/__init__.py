"""The meetings service: meetings with their transcripts, summaries, notes, keywords,
participants and recordings, made by bots, calendar events and file imports."""
