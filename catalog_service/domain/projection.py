"""The public projection of a record (区分处理, 条例第三十七条): redacted segments are replaced by a fixed-width
mask naming the ground, never a length-preserving one (froide#437: lengths leak names). The original is kept;
only the projection is ever served to the public or indexed for search.

Offsets are trusted only where the withheld text still stands at them (anchors.is_anchored): otherwise — a lost
anchor, or offsets that an edit moved without re-anchoring — the whole field is withheld. Fail closed: a field
shown too little is a complaint, a name shown is a breach (issue 11 item 3)."""

from catalog_service.domain.anchors import REDACTABLE_FIELDS, field_text, is_anchored
from catalog_service.domain.query import canonical_doc_number
from catalog_service.models import Document, Redaction
from catalog_service.vocab import WithholdingGround

__all__ = ["MASK", "apply_redactions", "refresh_projection"]

MASK = "［已删除：{label}］"
_LABELS = {g.value: g.zh for g in WithholdingGround}


def apply_redactions(text: str, segments: list[Redaction]) -> str:
    for seg in segments:
        if not is_anchored(seg, text):
            return MASK.format(label=_LABELS.get(seg.ground, seg.ground))
    out, cursor = [], 0
    for seg in sorted(segments, key=lambda s: s.start):
        start, end = max(seg.start, cursor), min(seg.end, len(text))
        if end <= start:
            continue
        out.append(text[cursor:start])
        out.append(MASK.format(label=_LABELS.get(seg.ground, seg.ground)))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def refresh_projection(doc: Document, redactions: list[Redaction]) -> None:
    by_field: dict[str, list[Redaction]] = {f: [] for f in REDACTABLE_FIELDS}
    for seg in redactions:
        by_field.setdefault(seg.field, []).append(seg)
    doc.public_title = apply_redactions(field_text(doc, "title"), by_field["title"])
    # An empty summary stays empty (None or ""), unless a redaction still points into it: then withheld whole.
    doc.public_summary = (apply_redactions(field_text(doc, "summary"), by_field["summary"])
                          if doc.summary or by_field["summary"] else doc.summary)
    doc.public_body = apply_redactions(field_text(doc, "body"), by_field["body"])
    doc.doc_number_key = canonical_doc_number(doc.doc_number)
