"""A caller in an EIDO person component: written with the names of NENA's schema (NIEM
Core's ``nc:PersonType`` as ``NIEMComponents/nc.yaml`` spells it), read in that form,
in the international telephone form, and in the form Arverne wrote before."""

from __future__ import annotations

from arverne.dispatch.eido_schemas import PersonComponent


def test_a_caller_is_written_with_the_schema_names_and_read_back() -> None:
    person = PersonComponent.caller("p1", "urn:emergency:uid:callid:1:x", "Jeanne Martin",
                                    "+33473000000")  # fmt: skip
    data = person.nc_person_component
    assert data is not None
    assert data["name"] == [{"personFullName": [{"value": "Jeanne Martin"}]}]
    (contact,) = data["homeContactInformation"]
    (number,) = contact["contactTelephoneNumber"]
    assert number == {"full": [{"telephoneNumberFullID": [{"value": "+33473000000"}]}]}
    assert person.name_and_phone() == ("Jeanne Martin", "+33473000000")
    assert PersonComponent.caller("p2", "c", None, "17").name_and_phone() == (None, "17")


def test_other_forms_are_read() -> None:
    international = {
        "employmentContactInformation": [{"contactTelephoneNumber": [{"international": [
            {"telephoneCountryCodeID": [{"value": "33"}],
             "telephoneNumberID": [{"value": "473000000"}]},
        ]}]}],
        "name": [{"personFullName": ["Paul Durand"]}],  # a bare string is read too
    }  # fmt: skip
    person = PersonComponent(id="p", nc_person_component=international)
    assert person.name_and_phone() == ("Paul Durand", "+33473000000")
    before = {  # as Arverne wrote it until 2026-12-06
        "PersonName": {"PersonFullName": "A. Témoin"},
        "ContactInformation": {
            "ContactTelephoneNumber": {"FullTelephoneNumber": {"TelephoneNumberFullID": "06"}}
        },
    }
    assert PersonComponent(id="o", nc_person_component=before).name_and_phone() == (
        "A. Témoin",
        "06",
    )
    assert PersonComponent(id="e", nc_person_component={}).name_and_phone() == (None, None)
