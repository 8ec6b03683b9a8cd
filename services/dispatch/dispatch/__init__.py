"""Dispatch service: routes cases to units, double check-in Party members, volunteers and social organisations; runs the task lifecycle and chases deadlines."""
