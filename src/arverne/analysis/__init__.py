"""Crime analysis on the platform's own data: statistics, hotspots and logged forecast runs.

The numbers come from :mod:`arverne.analytics` (pure); this domain reads incidents from the
store (place, time and category only: never a person), records every forecast run with
who ran it and why, and monitors how concentrated the flagged areas are over time.
"""
