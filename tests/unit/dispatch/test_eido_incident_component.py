"""A document without ``incidentComponent`` (optional in NENA's schema) is read as an
incident whose type is not stated; one built in code keeps the component it was given."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from arverne.dispatch import eido_mapping as em
from arverne.dispatch import eido_schemas as es

NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
ROOT = {"eidoMessageIdentifier": "m-1", "lastUpdateTimeStamp": NOW.isoformat(),
        "sendingSystemIdentifier": "sdis.example"}  # fmt: skip


def test_a_call_transferred_alone_is_an_incident_of_unstated_type() -> None:
    doc = es.EidoDocument.model_validate({"$id": "urn:x:T-1", **ROOT})
    inc = doc.incident_component
    assert inc.incident_tracking_identifier == "urn:x:T-1"
    assert inc.incident_type_common_registry_text == es.TYPE_NOT_STATED
    assert em.to_arverne_type(inc.incident_type_internal_code, es.TYPE_NOT_STATED) is None
    assert "pas transmis" in em.stated_type(inc)


def test_without_a_tracking_id_the_component_is_still_required() -> None:
    with pytest.raises(ValidationError, match="incidentComponent"):
        es.EidoDocument.model_validate(ROOT)


def test_a_document_built_in_code_keeps_its_component() -> None:
    component = es.IncidentComponent(
        id="c-1", incident_tracking_identifier="T", incident_type_common_registry_text="Theft"
    )
    doc = es.EidoDocument(
        **{"$id": "T"},
        eido_message_identifier="m",
        last_update_time_stamp=NOW,
        sending_system_identifier="s",
        incident_component=component,
    )
    assert doc.incident_component.incident_type_common_registry_text == "Theft"


def test_the_stated_type_names_what_the_sender_sent() -> None:
    inc = es.IncidentComponent(
        id="c-1",
        incident_tracking_identifier="T",
        incident_type_common_registry_text="StructureFire",
        incident_type_internal_text="Feu de local",
        incident_type_internal_code="F12",
    )
    assert "StructureFire / Feu de local / F12" in em.stated_type(inc)
