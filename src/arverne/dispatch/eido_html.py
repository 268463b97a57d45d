"""EIDO notes are HTML5 (``notesActionComments``, NENA's EIDO schema); Arverne's are text.

:func:`note_html` writes a note's text so that a partner displaying it as HTML shows it
as written (``<``, ``&`` escaped, line breaks as ``<br>``); :func:`note_text` reads a
partner's HTML note back as text: tags dropped (``script`` and ``style`` with their
content), line breaks kept, character references decoded. Text written by one and read
by the other comes back unchanged.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
_HIDDEN = frozenset({"script", "style"})


def note_html(text: str) -> str:
    """A note's text as HTML5 that displays as ``text``.

    Parameters
    ----------
    text
        The note as written in Arverne (plain text, possibly on several lines).

    Returns
    -------
    str
        The same text with ``&``, ``<`` and ``>`` escaped and line breaks as ``<br>``.
    """
    return html.escape(text, quote=False).replace("\r\n", "\n").replace("\n", "<br>")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br" or (tag in _BREAKS and self.parts):  # a block opens a new line
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag in _BREAKS and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def note_text(markup: str) -> str:
    """A partner's HTML5 note as plain text.

    Parameters
    ----------
    markup
        ``notesActionComments`` as received.

    Returns
    -------
    str
        The text a browser would show, with block elements and ``<br>`` as line breaks,
        at most one empty line in a row, and no surrounding blank space.
    """
    parser = _Text()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
