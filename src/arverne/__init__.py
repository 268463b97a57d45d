"""Arverne: open-source police operations platform."""

__version__ = "0.1.0"
