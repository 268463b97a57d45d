"""Tests of the pure analytics package."""
