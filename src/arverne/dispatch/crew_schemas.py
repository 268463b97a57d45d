"""Wire shapes of crew safety: status checks and distress calls."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from arverne.dispatch.schemas import (
    IncidentOut,
    Lat,
    Lon,
    LongText,
    ShortText,
    StrictIn,
    UnitOut,
)
from arverne.people.schemas import Badge

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class CheckIn(StrictIn):
    """The answer to a status check (contrôle de situation) of a committed unit."""

    outcome: Literal["ok", "no_answer"] = Field(
        description="ok: the crew answered, the timer restarts; no_answer: escalate"
    )
    note: Note | None = None


class CheckOut(BaseModel):
    """A unit's status-check timer."""

    unit_id: int
    call_sign: str
    status: str
    incident_id: int | None
    started_at: dt.datetime
    due_at: dt.datetime
    overdue_s: float = Field(description="seconds past due (negative: not due yet)")
    missed: bool = Field(description="the last check got no answer")
    alerted: bool = Field(description="the expiry is in the duty log")


class DistressIn(StrictIn):
    """A crew's distress call (bouton d'alerte, or relayed by radio by the dispatcher).

    The place defaults to the unit's last AVL position, then to its incident's place;
    give it when neither is known or the crew said where they are.
    """

    note: Note | None = Field(default=None, description="what the crew said, if anything")
    address: ShortText | None = None
    lon: Lon | None = None
    lat: Lat | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> DistressIn:
        if (self.lon is None) != (self.lat is None):
            msg = "give both lon and lat, or neither"
            raise ValueError(msg)
        return self


class DistressOut(BaseModel):
    """The distress incident, and whether this call created it (false: already open)."""

    incident: IncidentOut
    created: bool


class CrewIn(StrictIn):
    """A unit's whole crew, by badge (matricule); an empty list clears it."""

    badges: list[Badge] = Field(max_length=12, description="badges of the officers, in order")


class CrewMember(BaseModel):
    """The officer a login account is linked to."""

    badge: str
    name: str


class MyUnitsOut(BaseModel):
    """The caller's officer (``null`` when the account is not linked to one) and the
    units whose crew they are on."""

    officer: CrewMember | None
    units: list[UnitOut]


class InitiativeIn(StrictIn):
    """An incident a crew comes upon and handles at once (intervention d'initiative).

    The place defaults to the unit's last AVL position.
    """

    type_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=48)]
    priority: Annotated[int, Field(ge=1, le=4)] | None = Field(
        default=None, description="overrides the type's default priority"
    )
    description: LongText | None = None
    address: ShortText | None = None
    lon: Lon | None = None
    lat: Lat | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> InitiativeIn:
        if (self.lon is None) != (self.lat is None):
            msg = "give both lon and lat, or neither"
            raise ValueError(msg)
        return self
