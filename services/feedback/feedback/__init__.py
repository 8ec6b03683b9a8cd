"""Feedback service: callbacks and ratings, redo, completion reports of social organisations, assessment figures
kept current from events, and hotspot warnings."""
