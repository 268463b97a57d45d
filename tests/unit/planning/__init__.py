"""Tests of the planning package (queueing models, simulator, reports, calibration)."""
