"""Anchoring redactions (区分处理) on their text, so that an edit cannot slide the withheld text out from under them.

Offsets alone are wrong as soon as the text changes (security review, issue 11 item 3: a prefix added to the body
moved the name out of the redacted span and the public body and search showed it). A redaction therefore keeps
the exact text it withholds, up to CONTEXT code points of context on each side, and its offsets as the last known
position. After an edit it is looked for again:

  - the withheld text occurs once                       → anchored there;
  - several times                                       → the occurrence whose context agrees best with the stored
                                                          context; a tie is broken only by the old position, and
                                                          otherwise the anchor is lost (never guessed);
  - not at all (deleted, or changed inside)             → lost.

A lost redaction withholds its whole field in the public projection (projection.py, fail closed) and stops the
record in review (`redaction_anchor_lost`, 409) until a secrecy officer removes or replaces it.

Offsets are Unicode code points (Python string indices), not UTF-16 code units and not bytes: 𠮷 (U+20BB7) is
one position. That is the documented unit and the stored one. A client that counts in UTF-16 code units (JavaScript
String indices, where 𠮷 is two) says so with `offset_unit: "utf16"` and its offsets are converted here against the
field's text (`from_utf16`); an offset between the two halves of a surrogate pair names no character and is refused.
Every redaction read carries both: `start`/`end` in code points and `start_utf16`/`end_utf16` (`to_utf16`).
"""

from dataclasses import dataclass

from catalog_service.models import Document, Redaction

__all__ = ["CONTEXT", "REDACTABLE_FIELDS", "Moved", "OffsetInsideCharacter", "capture", "field_text", "from_utf16",
           "is_anchored", "locate", "reanchor", "to_utf16"]

CONTEXT = 16  # code points of context kept on each side: enough to tell a repeated name apart, little to store
REDACTABLE_FIELDS = ("title", "summary", "body")  # keywords, 文号, attachment names are not redactable


def field_text(doc: Document, field: str) -> str:
    return {"title": doc.title or "", "summary": doc.summary or "", "body": doc.body or ""}[field]


class OffsetInsideCharacter(ValueError):
    """A UTF-16 offset between the two code units of one character (a surrogate pair)."""


def to_utf16(text: str, index: int) -> int:
    """The UTF-16 code-unit offset of code point `index` of `text` (what JavaScript's indexOf gives)."""
    return index + sum(1 for ch in text[:index] if ord(ch) > 0xFFFF)


def from_utf16(text: str, offset: int) -> int:
    """The code-point index of UTF-16 offset `offset` into `text`. Past the end: the length plus the excess (the
    caller's range check then refuses it). Inside a surrogate pair: OffsetInsideCharacter."""
    units = 0
    for index, ch in enumerate(text):
        if units == offset:
            return index
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > offset:
            raise OffsetInsideCharacter(f"UTF-16 offset {offset} falls inside the character at code point {index}")
    return len(text) + (offset - units)


def capture(redaction: Redaction, text: str) -> None:
    """Take the withheld text and its context from `text` at the redaction's offsets (which are valid)."""
    redaction.text = text[redaction.start:redaction.end]
    redaction.prefix = text[max(0, redaction.start - CONTEXT):redaction.start]
    redaction.suffix = text[redaction.end:redaction.end + CONTEXT]
    redaction.state = "anchored"


def is_anchored(redaction: Redaction, text: str) -> bool:
    """The withheld text is where the redaction says: the check every projection makes before trusting offsets."""
    return (redaction.state == "anchored" and bool(redaction.text)
            and text[redaction.start:redaction.end] == redaction.text)


def _common_suffix(a: str, b: str) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def locate(redaction: Redaction, text: str) -> int | None:
    """Where the withheld text starts now, or None when it cannot be found unambiguously."""
    needle = redaction.text
    if not needle:
        return None
    found, at = [], text.find(needle)
    while at != -1:
        found.append(at)
        at = text.find(needle, at + 1)
    if len(found) <= 1:
        return found[0] if found else None
    scores = {i: _common_suffix(text[max(0, i - CONTEXT):i], redaction.prefix)
              + _common_prefix(text[i + len(needle):i + len(needle) + CONTEXT], redaction.suffix) for i in found}
    best = max(scores.values())
    tied = [i for i, score in scores.items() if score == best]
    if len(tied) == 1:
        return tied[0]
    return redaction.start if redaction.start in tied else None


@dataclass(frozen=True)
class Moved:
    """What an edit did to one redaction: moved (`redaction_reanchored`) or lost (`redaction_anchor_lost`)."""

    redaction: Redaction
    action: str
    before: tuple[int, int]
    after: tuple[int, int] | None

    @property
    def comment(self) -> str:
        # Where, not what: the review log never copies the withheld text.
        where = f"{self.redaction.field} {self.before[0]}–{self.before[1]}"
        if self.after is None:
            return f"{where}：编辑后找不到被删除的文字，须保密审查员复核 (anchor lost)"
        return f"{where} → {self.after[0]}–{self.after[1]}：随编辑移动 (re-anchored)"


def reanchor(redaction: Redaction, text: str) -> Moved | None:
    """Find the redaction again in the edited `text`; None when nothing changed worth logging."""
    before, was = (redaction.start, redaction.end), redaction.state
    at = locate(redaction, text)
    if at is None:
        if was == "lost":
            return None
        redaction.state = "lost"  # the offsets stay as the last known position, for the reviewer
        return Moved(redaction, "redaction_anchor_lost", before, None)
    redaction.start, redaction.end = at, at + len(redaction.text)
    capture(redaction, text)  # the context follows the text, so the next edit is compared with this one
    if (redaction.start, redaction.end) == before and was == "anchored":
        return None
    return Moved(redaction, "redaction_reanchored", before, (redaction.start, redaction.end))
