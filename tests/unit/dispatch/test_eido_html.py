"""EIDO notes are HTML5: Arverne's text is escaped on the way out and a partner's HTML is
read back as the text a browser would show, with nothing lost in a round trip."""

from __future__ import annotations

import pytest

from arverne.dispatch.eido_html import note_html, note_text


@pytest.mark.parametrize(
    "text",
    [
        "Suspects interpellés rue Blatin",
        "code <A12> & suite",
        "ligne 1\nligne 2\n\nligne 4",
        "<script>alert(1)</script>",  # typed by a dispatcher: text, never markup
        "&amp; déjà échappé",
    ],
)
def test_text_survives_the_round_trip_and_is_never_markup(text: str) -> None:
    markup = note_html(text)
    assert "<script" not in markup
    assert note_text(markup) == text


def test_a_partners_html_is_read_as_the_text_it_shows() -> None:
    markup = "<p>Suspect <b>armé</b></p><p>2<sup>e</sup> ligne&nbsp;: fuite</p>"
    assert note_text(markup) == "Suspect armé\n\n2e ligne\xa0: fuite"
    assert note_text("a<br>b<br/>c") == "a\nb\nc"
    assert note_text("vu <script>alert(1)</script>au <style>p{}</style>carrefour") == (
        "vu au carrefour"
    )
    assert note_text("a < b & c") == "a < b & c"  # loose text from a lenient sender
