"""Pydantic I/O of the catalogue. Create/Update bodies forbid unknown fields (no mass assignment)."""

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from catalog_service.codes import normalize_organ_code
from catalog_service.vocab import (
    Article20Item,
    ClassificationLevel,
    DisclosureAttribute,
    DocumentStatus,
    Genre,
    KeyArea,
    OrganKind,
    SubjectCategory,
    Validity,
    WithholdingGround,
)
from services.vocab import Term


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrganContact(InputSchema):
    """公开指南 facts of the disclosure office (条例第十二条)."""

    office_address: str | None = Field(None, max_length=300, description="办公地址 · office address")
    office_hours: str | None = Field(None, max_length=200, description="办公时间 · office hours")
    phone: str | None = Field(None, max_length=50, pattern=r"^[0-9+\-() ]{3,50}$", description="联系电话")
    fax: str | None = Field(None, max_length=50, pattern=r"^[0-9+\-() ]{3,50}$", description="传真号码")
    email: EmailStr | None = Field(None, description="互联网联系方式 · e-mail")
    website: str | None = Field(None, max_length=300, pattern=r"^https?://\S+$")


class OrganCreate(OrganContact):
    code: str = Field(description="统一社会信用代码 (18, GB 32100 check) or 组织机构代码 (9)",
                      examples=["11440100MB2C92715X"])
    name: str = Field(min_length=2, max_length=200, description="机关名称")
    short_name: str | None = Field(None, max_length=50, description="简称")
    kind: OrganKind
    parent_code: str | None = Field(None, description="Code of the superior organ (上级机关)")

    @field_validator("code", "parent_code")
    @classmethod
    def _valid_code(cls, value: str | None) -> str | None:
        return normalize_organ_code(value) if value is not None else None


class OrganRead(Schema):
    id: str
    code: str
    name: str
    short_name: str | None
    kind: OrganKind
    parent_id: str | None
    office_address: str | None
    office_hours: str | None
    phone: str | None
    fax: str | None
    email: str | None
    website: str | None
    version: int
    created_at: datetime
    updated_at: datetime


# 文号: 发文机关代字 + 〔年份〕 + 序号 + 号, e.g. 穗府办〔2011〕8号, 国发〔2018〕43号. The bracket variants seen in
# practice are accepted; the number is stored exactly as given.
DOC_NUMBER = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9]{1,20}[〔［\[(（]\d{4}[〕］\])）]\d{1,5}号$")


class OrganUpdate(OrganContact):
    name: str | None = Field(None, min_length=2, max_length=200)
    short_name: str | None = Field(None, max_length=50)
    kind: OrganKind | None = None


class DocumentFields(InputSchema):
    """Catalogue metadata a drafter (or an organ's document system) supplies."""

    title: str = Field(min_length=2, max_length=500, description="名称 · title (main title only)")
    summary: str | None = Field(None, max_length=5000, description="内容概述 · summary")
    doc_number: str | None = Field(None, max_length=100, description="文号, e.g. 穗府办〔2011〕8号",
                                   examples=["穗府办〔2011〕8号"])
    subject_category: SubjectCategory | None = None
    genre: Genre | None = None
    article20_item: Article20Item | None = None
    key_areas: list[KeyArea] = Field(default_factory=list, max_length=15)
    keywords: list[str] = Field(default_factory=list, max_length=20)
    written_date: date | None = Field(None, description="成文日期")
    formed_on: date | None = Field(None, description="形成或者变更之日: the 20-working-day clock starts here")
    effective_date: date | None = None
    body: str = Field("", max_length=500_000)
    co_issuer_codes: list[str] = Field(default_factory=list, max_length=20,
                                       description="联合发文: codes of the other issuing organs")
    interpretation_of: str | None = Field(None, description="解读: id of the policy this document explains")
    amends: list[str] = Field(default_factory=list, max_length=20, description="ids this document amends (修订)")
    repeals: list[str] = Field(default_factory=list, max_length=20, description="ids this document repeals (废止)")
    proposed_attribute: DisclosureAttribute | None = Field(None, description="拟定公开属性")
    withholding_grounds: list[WithholdingGround] = Field(default_factory=list, max_length=8)
    attribute_reason: str | None = Field(None, max_length=2000, description="不予公开/依申请公开的理由")

    @field_validator("doc_number")
    @classmethod
    def _doc_number_shape(cls, value: str | None) -> str | None:
        if value is not None and not DOC_NUMBER.match(value):
            raise ValueError("文号 must look like 穗府办〔2011〕8号: organ abbreviation, 〔year〕, number, 号")
        return value

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        cleaned = [k.strip() for k in value if k.strip()]
        if any(len(k) > 50 for k in cleaned):
            raise ValueError("a keyword is at most 50 characters")
        return cleaned

    @field_validator("co_issuer_codes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        return [normalize_organ_code(v) for v in value]

    @model_validator(mode="after")
    def _grounds_when_withholding(self) -> "DocumentFields":
        if self.proposed_attribute in (DisclosureAttribute.WITHHELD, DisclosureAttribute.ON_REQUEST) \
                and not (self.withholding_grounds or self.attribute_reason):
            raise ValueError("a proposal of 不予公开 or 依申请公开 needs its legal ground (withholding_grounds) "
                             "or a reason")
        return self


class DocumentCreate(DocumentFields):
    pass


class DocumentUpdate(InputSchema):
    """Changes to a draft; fields left out stay as they are. Applied with If-Match."""

    title: str | None = Field(None, min_length=2, max_length=500)
    summary: str | None = Field(None, max_length=5000)
    doc_number: str | None = Field(None, max_length=100)
    subject_category: SubjectCategory | None = None
    genre: Genre | None = None
    article20_item: Article20Item | None = None
    key_areas: list[KeyArea] | None = Field(None, max_length=15)
    keywords: list[str] | None = Field(None, max_length=20)
    written_date: date | None = None
    formed_on: date | None = None
    effective_date: date | None = None
    body: str | None = Field(None, max_length=500_000)
    proposed_attribute: DisclosureAttribute | None = None
    withholding_grounds: list[WithholdingGround] | None = Field(None, max_length=8)
    attribute_reason: str | None = Field(None, max_length=2000)

    _doc_number_shape = field_validator("doc_number")(DocumentFields._doc_number_shape.__func__)  # type: ignore


class RedactionCreate(InputSchema):
    field: str = Field(pattern="^(title|summary|body)$")
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    ground: WithholdingGround
    note: str | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _ordered(self) -> "RedactionCreate":
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class RedactionRead(Schema):
    id: str
    field: str
    start: int
    end: int
    ground: WithholdingGround
    note: str | None
    created_by: str
    created_at: datetime


class ReviewStepRead(Schema):
    seq: int
    action: str
    actor_sub: str
    actor_name: str
    role: str
    comment: str | None
    status_before: DocumentStatus | None
    status_after: DocumentStatus
    attribute_before: DisclosureAttribute | None
    attribute_after: DisclosureAttribute | None
    at: datetime


class AttachmentRead(Schema):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class DocumentStaffRead(Schema):
    """The whole record as the organ's catalogue staff see it (the original text, review state)."""

    id: str
    organ_code: str
    organ_name: str
    index_no: str | None
    title: str
    summary: str | None
    doc_number: str | None
    subject_category: SubjectCategory | None
    genre: Genre | None
    article20_item: Article20Item | None
    key_areas: list[KeyArea]
    keywords: list[str]
    written_date: date | None
    formed_on: date | None
    effective_date: date | None
    repeal_date: date | None
    validity: Validity
    body: str
    co_issuer_codes: list[str]
    interpretation_of: str | None
    proposed_attribute: DisclosureAttribute | None
    attribute: DisclosureAttribute | None
    withholding_grounds: list[WithholdingGround]
    attribute_reason: str | None
    status: DocumentStatus
    classified: bool
    classification_level: ClassificationLevel | None
    secrecy_period_years: int | None
    declassify_on: date | None
    classification_responsible: str | None
    scheduled_publish_at: datetime | None
    published_at: datetime | None
    publication_due_on: date | None = Field(description="条例第二十六条: 20 working days from formed_on")
    publication_due_provisional: bool
    reevaluation_due_on: date | None = Field(description="条例第十八条: next re-evaluation of a withheld record")
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    public_title: str
    public_summary: str | None
    public_body: str
    redactions: list[RedactionRead]
    attachments: list[AttachmentRead]
    version: int
    created_at: datetime
    updated_at: datetime


class TransitionBody(InputSchema):
    comment: str | None = Field(None, max_length=2000, description="意见 · comment kept in the review log")


class ReasonBody(InputSchema):
    comment: str = Field(min_length=2, max_length=2000, description="理由 · required reason")


class DecideBody(InputSchema):
    """单位主要负责人审定: the final disclosure attribute."""

    attribute: DisclosureAttribute
    withholding_grounds: list[WithholdingGround] | None = Field(None, max_length=8)
    attribute_reason: str | None = Field(None, max_length=2000)
    scheduled_publish_at: datetime | None = Field(None, description="publish later instead of now (主动公开 only)")
    comment: str | None = Field(None, max_length=2000)


class ResolveReferralBody(InputSchema):
    """The competent department's or secrecy administration's answer (主管部门/保密行政管理部门意见)."""

    comment: str = Field(min_length=2, max_length=2000)
    attribute: DisclosureAttribute | None = None
    withholding_grounds: list[WithholdingGround] | None = Field(None, max_length=8)


class ClassifyBody(InputSchema):
    """定密: level, period or declassification date, and the person responsible (保守国家秘密法第十六、二十条)."""

    classification_level: ClassificationLevel
    secrecy_period_years: int | None = Field(None, ge=1, le=30)
    declassify_on: date | None = None
    classification_responsible: str = Field(min_length=2, max_length=100, description="定密责任人")
    comment: str | None = Field(None, max_length=2000)


class RepealBody(InputSchema):
    repeal_date: date | None = None
    comment: str | None = Field(None, max_length=2000)


class ReevaluateBody(InputSchema):
    attribute: DisclosureAttribute | None = Field(None, description="the attribute now proposed")
    comment: str = Field(min_length=2, max_length=2000)


class WorklistItem(Schema):
    id: str
    index_no: str | None
    title: str
    status: DocumentStatus
    attribute: DisclosureAttribute | None
    formed_on: date | None
    publication_due_on: date | None
    publication_due_provisional: bool
    reevaluation_due_on: date | None
    overdue: bool


class DocumentPublicRead(Schema):
    """A published record as the public sees it: the redacted projection, never the original."""

    id: str
    index_no: str | None = Field(description="索引号")
    title: str
    summary: str | None = Field(description="内容概述")
    doc_number: str | None = Field(description="文号")
    organ_code: str
    organ_name: str
    subject_category: SubjectCategory | None
    genre: Genre | None
    key_areas: list[KeyArea]
    keywords: list[str]
    written_date: date | None = Field(description="成文日期")
    effective_date: date | None
    repeal_date: date | None
    validity: Validity
    published_at: datetime | None
    body: str
    interpretation_of: str | None = Field(None, description="解读: the policy this document explains")
    attachments: list[AttachmentRead] = Field(default_factory=list)


class VocabularyRead(BaseModel):
    vocabularies: dict[str, list[Term]]
