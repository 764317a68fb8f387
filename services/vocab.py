"""Enums with Chinese and English labels, so front-ends never hard-code 予以公开 and friends.

    class Outcome(LabeledEnum):
        GRANTED = ("granted", "予以公开", "Granted")

The labels appear in the OpenAPI schema (`x-enum-labels` and the description) and in each service's
`GET <prefix>/vocabularies`.
"""

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["ApplicationStatus", "ConsultationChannel", "LabeledEnum", "Term", "label", "labels", "vocabulary"]


class LabeledEnum(StrEnum):
    zh: str
    en: str

    def __new__(cls, value: str, zh: str, en: str) -> "LabeledEnum":
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.zh = zh
        obj.en = en
        return obj

    def __str__(self) -> str:
        return self.value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = handler(core_schema)
        schema = handler.resolve_ref_schema(schema)
        doc = (cls.__doc__ or "").strip()
        lines = "\n".join(f"* `{m.value}` — {m.zh} ({m.en})" for m in cls)
        schema["description"] = f"{doc}\n\n{lines}" if doc else lines
        schema["x-enum-labels"] = {m.value: {"zh": m.zh, "en": m.en} for m in cls}
        return schema


class ApplicationStatus(LabeledEnum):
    """办理状态 · status of an application (the request service's; shared because the catalogue's application
    status webhooks label it too)"""

    RECEIVED = ("received", "已收到，待确认", "Received, awaiting confirmation")
    ACCEPTED = ("accepted", "已受理，计时中", "Accepted, clock running")
    SUPPLEMENT_REQUESTED = ("supplement_requested", "补正中", "Waiting for the applicant's supplement")
    CONSULTING = ("consulting", "征求意见中", "Consulting a third party or co-author organ")
    AWAITING_FEE = ("awaiting_fee", "待缴费", "Waiting for the processing fee")
    REPLY_DRAFTED = ("reply_drafted", "答复待签发", "Reply drafted, awaiting sign-off")
    REPLIED = ("replied", "已答复", "Replied")
    CLOSED = ("closed", "已终止", "Closed without a reply (deemed abandoned)")


class ConsultationChannel(LabeledEnum):
    """咨询渠道 · channel of a consultation (the request service records them; the annual report counts them)"""

    IN_PERSON = ("in_person", "现场咨询", "In person")
    PHONE = ("phone", "电话咨询", "Telephone")
    ONLINE = ("online", "网上咨询", "Online")
    EMAIL = ("email", "电子邮件", "E-mail")
    LETTER = ("letter", "信函", "Letter")
    OTHER = ("other", "其他", "Other")


class Term(BaseModel):
    code: str
    zh: str = Field(description="Chinese label · 中文名称")
    en: str = Field(description="English label")


def label(member: LabeledEnum | None) -> Term | None:
    """The zh/en label (标签) of a coded value, as the vocabulary endpoint gives it: the one mechanism behind every
    `<field>_label` computed field of the read models (a `@computed_field` per field, so the OpenAPI lists it)."""
    return None if member is None else Term(code=member.value, zh=member.zh, en=member.en)


def labels(members: "list[LabeledEnum] | None") -> list[Term]:
    """The labels of a list of codes, in its order (`<singular>_labels`, e.g. key_area_labels)."""
    return [Term(code=m.value, zh=m.zh, en=m.en) for m in members or []]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def vocabulary(*enums: type[LabeledEnum]) -> dict[str, list[Term]]:
    return {_snake(e.__name__): [Term(code=m.value, zh=m.zh, en=m.en) for m in e] for e in enums}
