"""Wire shapes of officers (personal data: who reads them is audited)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

Badge = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[\w.\-/]+$"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class OfficerIn(BaseModel):
    """A new officer: badge (matricule) and name; ``rank`` optional."""

    model_config = ConfigDict(extra="forbid")

    badge: Badge
    first_name: Name
    last_name: Name
    rank: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None


class OfficerCreate(OfficerIn):
    """A new officer, optionally linked at once to a login account (``username``)."""

    username: str | None = Field(default=None, description="login account to link")


Rank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class OfficerUpdate(BaseModel):
    """Changes to an officer: name and rank, the linked account (``null`` unlinks) and
    whether active. Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    first_name: Name | None = None
    last_name: Name | None = None
    rank: Rank | None = Field(default=None, description="null clears the rank")
    username: str | None = Field(default=None, description="login account to link; null unlinks")
    active: bool | None = Field(default=None, description="false: left the force (off every crew)")

    @field_validator("first_name", "last_name")
    @classmethod
    def _names_not_cleared(cls, value: str | None, info: ValidationInfo) -> str:
        if value is None:
            msg = f"cannot be removed; send the new {str(info.field_name).replace('_', ' ')}"
            raise ValueError(msg)
        return value


class OfficerOut(BaseModel):
    """An officer, the login account linked to it and the units whose crew it is on."""

    id: int
    badge: str
    name: str
    first_name: str
    last_name: str
    rank: str | None
    username: str | None
    units: list[str]
    active: bool
