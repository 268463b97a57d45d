"""Persistence: declarative base, engine and session factories, Alembic migrations."""
