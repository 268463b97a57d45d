"""Choose the city model from the settings."""

from __future__ import annotations

from arverne.config import Settings
from arverne.dispatch.city import CityModel, StraightLineCity


def load_city(settings: Settings) -> CityModel:
    """Return the city model for ``settings`` (straight-line fallback without a pack)."""
    return StraightLineCity(name="city (no city pack loaded)", bbox=settings.city_bbox)
