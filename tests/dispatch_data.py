"""Helpers for dispatch tests: units on duty and incidents through the real API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

# Inside the default city bounding box (Clermont-Ferrand centre).
JAUDE = (3.0830, 45.7772)
GARE = (3.1000, 45.7790)
NORD = (3.0900, 45.8000)


def new_unit(
    client: TestClient,
    headers: dict[str, str],
    call_sign: str,
    *,
    unit_type: str = "car",
    at: tuple[float, float] = JAUDE,
    status: str = "available",
    capabilities: list[str] | None = None,
) -> dict[str, Any]:
    """Create a unit (as a supervisor) and bring it into service at ``at``."""
    response = client.post(
        "/api/v1/units",
        json={
            "call_sign": call_sign,
            "unit_type": unit_type,
            "capabilities": capabilities or [],
            "home_station": "Hôtel de police",
            "station_lon": at[0],
            "station_lat": at[1],
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    unit = response.json()
    if status == "off_duty":  # new units start off duty
        return dict(unit)
    response = client.post(
        f"/api/v1/units/{unit['id']}/status", json={"status": status}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def new_incident(
    client: TestClient,
    headers: dict[str, str],
    type_code: str = "theft",
    *,
    at: tuple[float, float] = JAUDE,
    **extra: Any,
) -> dict[str, Any]:
    """Intake an incident at ``at`` and return the intake answer."""
    body = {"type_code": type_code, "lon": at[0], "lat": at[1], **extra}
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def set_status(
    client: TestClient, headers: dict[str, str], unit_id: int, status: str, **extra: Any
) -> Any:
    """POST a status change and return the raw response."""
    return client.post(
        f"/api/v1/units/{unit_id}/status", json={"status": status, **extra}, headers=headers
    )
