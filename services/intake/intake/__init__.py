"""Intake service: residents' demands in, stored once, announced as ``demand_received``."""
