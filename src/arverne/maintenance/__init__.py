"""Scheduled housekeeping: retention purges required by law and by the platform's own tables."""
