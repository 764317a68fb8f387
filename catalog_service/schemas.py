"""Pydantic I/O of the catalogue. Create/Update bodies forbid unknown fields (no mass assignment)."""

import re
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, EmailStr, Field, computed_field, field_validator, model_validator

from catalog_service.codes import normalize_organ_code
from catalog_service.vocab import (
    Article20Item,
    BulkRejectReason,
    BulkStatus,
    ChangeKind,
    ClassificationLevel,
    ColumnRule,
    DeliveryStatus,
    DisclosureAttribute,
    DocumentStatus,
    Genre,
    IntervalUnit,
    KeyArea,
    MappingBasis,
    OrganKind,
    RedactionState,
    SubjectCategory,
    Validity,
    WebhookStatus,
    WithholdingGround,
)
from services.inputs import JsonTypes
from services.pagination import Page
from services.policy import ActionRead
from services.vocab import Term, label, labels

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the calendar day of a moment, as the organs count days


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(JsonTypes):  # JSON types as the schema says: no 0 read as a date (services/inputs.py)
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
    parent_code: str | None = Field(None, description="上级机关 · the superior organ's code (null: top level)")
    office_address: str | None
    office_hours: str | None
    phone: str | None
    fax: str | None
    email: str | None
    website: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @computed_field(description="机关类别 · the kind with its Chinese and English label")  # type: ignore[prop-decorator]
    @property
    def kind_label(self) -> Term:
        return Term(code=self.kind.value, zh=self.kind.zh, en=self.kind.en)


# 文号: 发文机关代字 + 〔年份〕 + 序号 + 号, e.g. 穗府办〔2011〕8号, 国发〔2018〕43号. The bracket variants seen in
# practice are accepted; the number is stored exactly as given.
DOC_NUMBER = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9]{1,20}[〔［\[(（]\d{4}[〕］\])）]\d{1,5}号$")


class OrganUpdate(OrganContact):
    name: str | None = Field(None, min_length=2, max_length=200)
    short_name: str | None = Field(None, max_length=50)
    kind: OrganKind | None = None
    parent_code: str | None = Field(None, description="机构改革: code of the new superior organ (上级机关), null = top "
                                                      "level; omit to keep it. The organ moves with its subordinates.")

    @field_validator("parent_code")
    @classmethod
    def _valid_parent_code(cls, value: str | None) -> str | None:
        return normalize_organ_code(value) if value is not None else None


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
    effective_date: date | None = Field(None, description="施行日期")
    valid_until: date | None = Field(None, description=(
        "有效期至 · the last day in force, if the document states it; otherwise a 行政规范性文件 gets one at "
        "publication (CATALOG_VALIDITY_YEARS: 5 years from 施行日期/成文日期, 2 for 试行/暂行; 国办发〔2018〕37号)"))
    body: str = Field("", max_length=500_000)
    co_issuer_codes: list[str] = Field(default_factory=list, max_length=20,
                                       description="联合发文: codes of the other issuing organs")
    interpretation_of: str | None = Field(None, min_length=1,  # "" is no id (it reached the foreign key: a 500)
                                          description="解读: id of the policy this document explains")
    major_policy: bool = Field(False, description="重大政策: due a 解读 like a 行政规范性文件 (issue 16)")
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
    column_ids: list[str] = Field(default_factory=list, max_length=20,
                                  description="公开目录栏目 of the organ to place the record in explicitly (besides "
                                              "the columns whose 体裁/主题 rules it matches)")


class DocumentUpdate(InputSchema):
    """Changes to a draft; fields left out stay as they are, null clears a field that may be empty. Applied with
    If-Match. The title, body and lists cannot be null (leave them out, or send "" / []): their columns are NOT
    NULL, and a null reached the database as a 500."""

    title: str = Field(None, min_length=2, max_length=500)  # type: ignore[assignment]
    summary: str | None = Field(None, max_length=5000)
    doc_number: str | None = Field(None, max_length=100)
    subject_category: SubjectCategory | None = None
    genre: Genre | None = None
    article20_item: Article20Item | None = None
    key_areas: list[KeyArea] = Field(None, max_length=15)  # type: ignore[assignment]
    keywords: list[str] = Field(None, max_length=20)  # type: ignore[assignment]
    written_date: date | None = None
    formed_on: date | None = None
    effective_date: date | None = None
    body: str = Field(None, max_length=500_000)  # type: ignore[assignment]
    proposed_attribute: DisclosureAttribute | None = None
    withholding_grounds: list[WithholdingGround] = Field(None, max_length=8)  # type: ignore[assignment]
    attribute_reason: str | None = Field(None, max_length=2000)
    major_policy: bool = Field(None, description="重大政策: due a 解读")  # type: ignore[assignment]
    column_ids: list[str] = Field(None, max_length=20,  # type: ignore[assignment]
                                  description="公开目录栏目 to place the record in explicitly (replaces the list)")

    _doc_number_shape = field_validator("doc_number")(DocumentFields._doc_number_shape.__func__)  # type: ignore


class RedactionCreate(InputSchema):
    """A segment to withhold, by offsets into the record's current title, summary or body — the only redactable
    fields. Offsets count Unicode code points (𠮷 is one) unless `offset_unit` is `utf16`: UTF-16 code units, as
    JavaScript String indices count (𠮷 is two). The server stores the text found there and anchors the redaction on
    it, so later edits move the redaction with the text."""

    field: str = Field(pattern="^(title|summary|body)$")
    start: int = Field(ge=0, description="First position withheld (in `offset_unit`)")
    end: int = Field(gt=0, description="Position after the last one withheld (in `offset_unit`)")
    offset_unit: Literal["codepoint", "utf16"] = Field("codepoint", description=(
        "codepoint (default; Python str indices) or utf16 (JavaScript String indices). A utf16 offset inside a "
        "surrogate pair is refused (422 offset_inside_character)"))
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
    start: int = Field(description="Offset in Unicode code points (not UTF-16 units); the last known position")
    end: int = Field(description="Exclusive end, in code points")
    start_utf16: int | None = Field(None, description=(
        "The same start in UTF-16 code units (JavaScript String indices); null while the anchor is lost"))
    end_utf16: int | None = Field(None, description="The same exclusive end in UTF-16 code units; null when lost")
    text: str = Field(description="The withheld text exactly, on which the redaction is anchored")
    state: RedactionState = Field(description=(
        "anchored: the text stands at start–end; lost: an edit removed or changed it, or made it ambiguous — the "
        "field is withheld whole and the record cannot go on in review until a secrecy officer acts"))
    ground: WithholdingGround
    note: str | None
    created_by: str
    created_role: str | None = Field(description="The role the redaction was added in (secrecy_officer: only a "
                                                 "secrecy officer removes it)")
    created_at: datetime

    @computed_field(description="遮盖定位状态 · state label")  # type: ignore[prop-decorator]
    @property
    def state_label(self) -> Term:
        return label(self.state)  # type: ignore[return-value]

    @computed_field(description="不予公开理由 · ground label")  # type: ignore[prop-decorator]
    @property
    def ground_label(self) -> Term:
        return label(self.ground)  # type: ignore[return-value]


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
    redaction_id: str | None = Field(description="The redaction a redaction_* step is about")
    at: datetime

    @computed_field(description="状态 · status before the step")  # type: ignore[prop-decorator]
    @property
    def status_before_label(self) -> Term | None:
        return label(self.status_before)

    @computed_field(description="状态 · status after the step")  # type: ignore[prop-decorator]
    @property
    def status_after_label(self) -> Term:
        return label(self.status_after)  # type: ignore[return-value]

    @computed_field(description="公开属性 · attribute before the step")  # type: ignore[prop-decorator]
    @property
    def attribute_before_label(self) -> Term | None:
        return label(self.attribute_before)

    @computed_field(description="公开属性 · attribute after the step")  # type: ignore[prop-decorator]
    @property
    def attribute_after_label(self) -> Term | None:
        return label(self.attribute_after)


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
    major_policy: bool = Field(description="重大政策: due a 解读 like a 行政规范性文件")
    interpretation_due_on: date | None = Field(
        description="解读 due by (set at publication for 行政规范性文件 and major policies; working days)")
    valid_until: date | None = Field(None, description="有效期至 as the drafter gave it")
    expires_on: date | None = Field(None, description="有效期届满 · last day in force (set when published)")
    ceased_on: date | None = Field(None, description="first day no longer in force (废止、届满、失效), if known")
    column_ids: list[str] | None = Field(description="公开目录栏目 the record is placed in explicitly")
    reevaluation_due_on: date | None = Field(description="条例第十八条: next re-evaluation of a withheld record")
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    migrated: bool = Field(False, description="历史数据迁移: imported with its real history from another system")
    validity_history: list[dict[str, str]] | None = Field(None, description="有效性 before the import, oldest first")
    public_title: str
    public_summary: str | None
    public_body: str
    redactions: list[RedactionRead]
    attachments: list["AttachmentStaffRead"] = Field(description="Every attachment, with its 区分处理 `withheld` flag")
    actions: list[ActionRead] = Field(default_factory=list, description=(
        "what the caller may do next (下一步操作): exactly the workflow actions the access table and the workflow's "
        "guard admit now (empty for a record of another organ)"))
    version: int
    created_at: datetime
    updated_at: datetime

    @computed_field(description="主题分类 · label")  # type: ignore[prop-decorator]
    @property
    def subject_category_label(self) -> Term | None:
        return label(self.subject_category)

    @computed_field(description="体裁 · genre label")  # type: ignore[prop-decorator]
    @property
    def genre_label(self) -> Term | None:
        return label(self.genre)

    @computed_field(description="条例第二十条 item · label")  # type: ignore[prop-decorator]
    @property
    def article20_item_label(self) -> Term | None:
        return label(self.article20_item)

    @computed_field(description="重点领域 · labels, in the order of key_areas")  # type: ignore[prop-decorator]
    @property
    def key_area_labels(self) -> list[Term]:
        return labels(self.key_areas)

    @computed_field(description="效力状态 · validity label")  # type: ignore[prop-decorator]
    @property
    def validity_label(self) -> Term:
        return label(self.validity)  # type: ignore[return-value]

    @computed_field(description="拟定公开属性 · proposed attribute label")  # type: ignore[prop-decorator]
    @property
    def proposed_attribute_label(self) -> Term | None:
        return label(self.proposed_attribute)

    @computed_field(description="公开属性 · attribute label")  # type: ignore[prop-decorator]
    @property
    def attribute_label(self) -> Term | None:
        return label(self.attribute)

    @computed_field(description="不予公开理由 · labels, in the order of withholding_grounds")  # type: ignore[prop-decorator]
    @property
    def withholding_ground_labels(self) -> list[Term]:
        return labels(self.withholding_grounds)

    @computed_field(description="状态 · status label")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> Term:
        return label(self.status)  # type: ignore[return-value]

    @computed_field(description="密级 · classification level label")  # type: ignore[prop-decorator]
    @property
    def classification_level_label(self) -> Term | None:
        return label(self.classification_level)


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

    @computed_field(description="状态 · status label")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> Term:
        return label(self.status)  # type: ignore[return-value]

    @computed_field(description="公开属性 · attribute label")  # type: ignore[prop-decorator]
    @property
    def attribute_label(self) -> Term | None:
        return label(self.attribute)


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

    @computed_field(description="主题分类 · label")  # type: ignore[prop-decorator]
    @property
    def subject_category_label(self) -> Term | None:
        return label(self.subject_category)

    @computed_field(description="体裁 · genre label")  # type: ignore[prop-decorator]
    @property
    def genre_label(self) -> Term | None:
        return label(self.genre)

    @computed_field(description="重点领域 · labels, in the order of key_areas")  # type: ignore[prop-decorator]
    @property
    def key_area_labels(self) -> list[Term]:
        return [label(k) for k in self.key_areas]  # type: ignore[misc]

    @computed_field(description="效力状态 · validity label")  # type: ignore[prop-decorator]
    @property
    def validity_label(self) -> Term:
        return label(self.validity)  # type: ignore[return-value]


class OrganRef(Schema):
    """An organ as other records name it: by its code (统一社会信用代码 / 组织机构代码) with its name."""

    code: str
    name: str


class LinkedDocument(Schema):
    """A public record linked to this one (修订、废止、解读), with the address of its public view."""

    id: str
    title: str
    index_no: str | None = Field(description="索引号")
    doc_number: str | None = Field(description="文号")
    published_at: datetime | None
    url: str = Field(description="absolute URL of its public view (on the configured public base URL)")


class AttachmentPublicRead(AttachmentRead):
    url: str = Field(description="absolute download URL (on the configured public base URL)")


class DocumentPublicDetail(DocumentPublicRead):
    """The public view of one record with what it is linked to (GET /documents/{id}). A link names a record only
    while the public may see it; when one appears or disappears, this record's version (ETag) changes."""

    co_issuers: list[OrganRef] = Field(description="联合发文: the organs that issued it with the lead organ "
                                                   "(organ_code), by code")
    amends: list[LinkedDocument] = Field(description="修订: the records this one amends")
    amended_by: list[LinkedDocument] = Field(description="被修订: the records that amend this one")
    repeals: list[LinkedDocument] = Field(description="废止: the records this one repeals")
    repealed_by: list[LinkedDocument] = Field(description="被废止: the records that repeal this one")
    interpreted_by: list[LinkedDocument] = Field(description="解读: the public interpretations of this record "
                                                             "(the other way of interpretation_of)")
    attachments: list[AttachmentPublicRead] = Field(  # type: ignore[assignment]
        description="附件 that are public, each with its download URL")


class VocabularyRead(BaseModel):
    vocabularies: dict[str, list[Term]]


# ---- 全文检索 · catalogue search (catalog_service/domain/search.py) --------------------------------------------------
from typing import Literal  # noqa: E402  (appended section: the head of this module is edited concurrently)

SEARCH_MAX_QUERY_CHARS = 100
SEARCH_MAX_OFFSET = 10_000


class DocumentFilterParams(BaseModel):
    """The filters of the catalogue search (目录检索) that the public may use: the search's public parameters and
    the parameters of a saved-search Atom feed (检索订阅). Unknown parameters are ignored."""

    model_config = ConfigDict(str_strip_whitespace=True)

    q: str | None = Field(None, max_length=SEARCH_MAX_QUERY_CHARS, description=(
        "检索词 · search text. Understood (see `understood` in the response): Chinese without spaces is cut into "
        "words, function words of questions (怎么, 如何, 请问 …) are dropped, quoted phrases (\"…\", “…”, 「…」) match "
        "exactly, a 文号 in any bracket style finds its record first, synonyms of the search dictionary match each "
        "other. Every word must occur (AND) in the public title, 文号, 索引号, summary, keywords or body; when no "
        "record has them all, records with some of them are returned (`understood.relaxed`). Traditional and "
        "Simplified characters match each other, full-width and half-width forms are folded, Latin letters ignore "
        "case; numbers and Latin words match whole. 1–2 character queries match as typed. At most "
        f"{SEARCH_MAX_QUERY_CHARS} characters."), examples=["政务公开"])
    organ: str | None = Field(None, description="机关: code of the issuing (lead) organ",
                              examples=["11440100MB0000001L"])
    include_subordinates: bool = Field(False, description="With `organ`: also its subordinate organs (下级机关)")
    subject_category: SubjectCategory | None = Field(None, description="主题分类")
    genre: Genre | None = Field(None, description="体裁分类")
    key_area: KeyArea | None = Field(None, description="重点领域")
    year: int | None = Field(None, ge=1949, le=2100, description=(
        "年度: the year (Beijing time) of publication; with scope=organ the year of 成文日期 "
        "(or of creation when there is none)"))
    validity: Validity | None = Field(None, description="有效性")
    index_no: str | None = Field(None, max_length=64, description="索引号, exact match")
    doc_number: str | None = Field(None, max_length=100, description="文号, exact match, e.g. 穗府办〔2011〕8号")

    @field_validator("organ")
    @classmethod
    def _organ_code(cls, value: str | None) -> str | None:
        return normalize_organ_code(value) if value else None

    @field_validator("q", "index_no", "doc_number")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class DocumentSearchParams(DocumentFilterParams):
    """Query parameters of the catalogue search (目录检索). Unknown parameters are ignored."""

    attribute: DisclosureAttribute | None = Field(None, description="公开属性 — only with scope=organ (staff)")
    status: DocumentStatus | None = Field(None, description="状态 — only with scope=organ (staff)")
    scope: Literal["public", "organ"] = Field("public", description=(
        "`public`: published records (everyone). `organ`: catalogue staff only — every record of their own organ in "
        "any state (classified ones only for the secrecy officer and unit head); anyone else gets `public`."))
    sort: Literal["relevance", "date"] = Field("relevance", description=(
        "`relevance`: a record whose 文号 or 索引号 is the one asked for first, then BM25F over the words with field "
        "weights (title 4, 文号/索引号 3, keywords 2, summary and body 1), a boost for words in the title and one when "
        "the title contains the whole query; ties in force before repealed, then newest. Without `q`: newest "
        "first. `date`: newest first (publication date; with scope=organ, publication or else creation date)."))
    limit: int = Field(20, ge=1, le=100, description="Page size (at most 100; larger is a 422)")
    after: str | None = Field(None, max_length=512, description=(
        "The `next_cursor` of the previous page (opaque), as on every list; omit for the first page"))
    offset: int = Field(0, ge=0, le=SEARCH_MAX_OFFSET, description=(
        f"Numbered pages only (jump to page n: offset = (n−1)·limit), at most {SEARCH_MAX_OFFSET:,}; not together "
        "with `after`. \"Load more\" uses `after`."))


class DocumentSearchHit(BaseModel):
    id: str
    index_no: str | None = Field(description="索引号")
    title: str = Field(description="名称: the public title (withheld parts masked)")
    doc_number: str | None = Field(description="文号")
    organ_code: str
    organ_name: str
    genre: Genre | None
    subject_category: SubjectCategory | None
    published_at: datetime | None
    validity: Validity
    snippet: str = Field(description=(
        "摘要片段 · an HTML fragment: up to ~120 characters of the public summary or body around the first match, "
        "HTML-escaped, every occurrence of a search term wrapped in `<em>…</em>`; `…` marks a cut. Without a "
        "match in summary or body (e.g. a title or 文号 match), the start of the summary or body."))
    status: DocumentStatus | None = Field(None, description="状态 — scope=organ only")
    attribute: DisclosureAttribute | None = Field(None, description="公开属性 — scope=organ only")

    @computed_field(description="体裁 · genre label")  # type: ignore[prop-decorator]
    @property
    def genre_label(self) -> Term | None:
        return label(self.genre)

    @computed_field(description="主题分类 · label")  # type: ignore[prop-decorator]
    @property
    def subject_category_label(self) -> Term | None:
        return label(self.subject_category)

    @computed_field(description="效力状态 · validity label")  # type: ignore[prop-decorator]
    @property
    def validity_label(self) -> Term:
        return label(self.validity)  # type: ignore[return-value]

    @computed_field(description="状态 · scope=organ only")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> Term | None:
        return label(self.status)

    @computed_field(description="公开属性 · scope=organ only")  # type: ignore[prop-decorator]
    @property
    def attribute_label(self) -> Term | None:
        return label(self.attribute)


class FacetCount(BaseModel):
    value: str = Field(description="The filter value to pass back (organ code, vocabulary code, year)")
    label: str = Field(description="Chinese label · 中文名称")
    count: int


class QueryUnderstanding(BaseModel):
    """检索式理解 · how the query was understood (domain/query.py), so that a portal can say "您是不是要找…"."""

    words: list[str] = Field(default_factory=list, description=(
        "检索词 · the words searched for, all of which must occur (AND): the query folded (繁→简, full-width → "
        "half-width, lower case) and cut into words (jieba, with the catalogue's organ names and synonym entries), "
        "function words of questions removed. 1–2 character queries are kept whole. · Words searched for (AND)."))
    phrases: list[str] = Field(default_factory=list, description=(
        "引号短语 · quoted phrases (\"…\", “…”, 「…」), matched exactly as substrings, never cut. · Exact phrases."))
    doc_numbers: list[str] = Field(default_factory=list, description=(
        "文号 recognised in any bracket style (〔〕 [] 【】 () （） ［］), full-width digits, with or without 第, in "
        "canonical form `穗府办〔2011〕8号`; records with that 文号 come first. · Document numbers recognised."))
    index_nos: list[str] = Field(default_factory=list, description=(
        "索引号 recognised by the catalogue's template; that record comes first. · Index numbers recognised."))
    synonyms_used: dict[str, list[str]] = Field(default_factory=dict, description=(
        "同义词 · a word of the query → the other forms it also matched, from the admin-managed search dictionary "
        "(e.g. 公租房 → [公共租赁住房]). · Synonyms applied."))
    dropped: list[str] = Field(default_factory=list, description=(
        "被忽略的词 · function words of a question left out (怎么, 如何, 请问 …). · Words ignored."))
    relaxed: bool = Field(False, description=(
        "放宽匹配 · true when no record contains every word: the results then contain some of them, best first "
        "(show \"没有同时包含全部检索词的结果，以下结果包含部分检索词\"). · Matched some words, not all."))


class FacetSample(BaseModel):
    """How estimated facets were counted: on the matches whose sample bucket (a hash of the record's id, uniform
    over 0–1023, fixed per record) is below `buckets`, each count then multiplied by 1024 / buckets."""

    cap: int = Field(description="Matches up to which facets are exact (the facet cap)")
    share: float = Field(description="The sampled fraction of the matches, buckets / 1024")
    buckets: int = Field(description="Sample buckets counted, of 1024")
    method: Literal["uniform_hash_sample"] = "uniform_hash_sample"


class DocumentSearchResult(Page[DocumentSearchHit]):
    """The common list envelope (services/pagination.py) with the search's own extras."""

    total: int = Field(description="Matches, counted exactly (any number: the search engine counts every match)")
    total_is_estimate: bool = Field(False, description=(
        "Always false: `total` is exact for any number of matches (the facets say for themselves, "
        "`facets_estimated_from`). Kept for clients of the earlier contract, where more than 1,000 matches were "
        "estimated."))
    limit: int
    offset: int
    facets: dict[str, list[FacetCount]] = Field(description=(
        "Counts per value over the same visible, filtered matches as `items`, most frequent first: organ, "
        "subject_category, genre, key_area, year, validity, and with scope=organ also attribute and status. "
        "Up to the facet cap (10,000 matches) a value's count is exactly the number of items the search returns "
        "with that filter added; beyond it the counts are estimated from a sample, `facets_estimated_from`."))
    facets_estimated_from: FacetSample | None = Field(None, description=(
        "分面估算 · null: the facets are exact. Set when the matches exceed the facet cap: the facets were counted "
        "on a uniform random sample of the matches and scaled up — what sample, in this object."))
    feed_url: str | None = Field(None, description=(
        "订阅此检索 · the Atom feed (GET /api/v1/catalog/feeds/atom.xml) of this search's filters, newest first, "
        "absolute on the platform's public address: for public searches; null with scope=organ (staff)"))
    understood: QueryUnderstanding = Field(default_factory=QueryUnderstanding, description=(
        "检索式理解 · how `q` was understood: words (AND), exact phrases, 文号 and 索引号 recognised, synonyms "
        "applied and words dropped — for a \"您是不是要找…\" line. Empty without `q`."))


# ---- Sync surface for integrating agencies: change feed, bulk import (批量导入), attachments (附件) ----------------
# Imports here, not at the head: this module is appended to by several people at once.
from dataclasses import dataclass  # noqa: E402
from typing import Annotated, Any, Literal  # noqa: E402

from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator  # noqa: E402

# Text a record may not carry (NUL, unpaired surrogates) is refused field by field by InputSchema (services/inputs).
MAX_BULK_RECORDS = 1000


class ChangeItem(BaseModel):
    """One change of a published record. `record` is its *current* public view, or null for a tombstone."""

    cursor: str = Field(description="Opaque position of this change (not ordered, not a count); pass the last one "
                                    "you applied as `after`")
    change: ChangeKind = Field(
        description="upsert: store `record` under document_id; tombstone: remove document_id from your copy")
    document_id: str
    occurred_at: datetime
    record: DocumentPublicRead | None = Field(description="The record as the public sees it now; null on tombstones")

    @computed_field(description="变更类型 · change label")  # type: ignore[prop-decorator]
    @property
    def change_label(self) -> Term:
        return label(self.change)  # type: ignore[return-value]


class ChangesPage(Page[ChangeItem]):
    """The change feed's page: the common envelope (services/pagination.py). A feed never ends, so `next_cursor` is
    always set — store it and pass it as `after` next time (it equals `after` when nothing new has happened);
    `has_more` says more changes are waiting (ask again at once)."""


class SnapshotDigest(BaseModel):
    """可验证的同步: the digest of one organ's public records at a change-feed position (domain/snapshot.py)."""

    organ: str = Field(description="Code of the lead organ whose public records are hashed")
    as_of: str = Field(description="Change-feed cursor the digest holds at: the one asked for, or the feed's head "
                                   "(opaque, as `/changes` hands them out)")
    records: int = Field(description="Number of public records hashed")
    algorithm: Literal["sha256"] = "sha256"
    digest: str = Field(description="SHA-256 (hex) over `id TAB record_hash LF` in ascending id order; record_hash "
                                    "= SHA-256 of the record's JSON with sorted keys, separators `,` `:`, no ASCII "
                                    "escaping")


class ImportReview(InputSchema):
    """保密审查 the organ's own system has already done for this record (who, when, conclusion, basis)."""

    reviewer: str = Field(min_length=2, max_length=100, description="审查人")
    reviewed_on: date = Field(description="审查日期")
    conclusion: DisclosureAttribute = Field(description="审查结论: proactive records are published on import")
    grounds: list[WithholdingGround] = Field(default_factory=list, max_length=8,
                                             description="不予公开/依申请公开 的依据")
    basis: str | None = Field(None, max_length=2000, description="审查依据或说明")

    @model_validator(mode="after")
    def _grounds_when_withholding(self) -> "ImportReview":
        if self.conclusion != DisclosureAttribute.PROACTIVE and not (self.grounds or self.basis):
            raise ValueError("a review concluding 不予公开 or 依申请公开 needs its grounds or basis")
        return self


class ValidityChange(InputSchema):
    """One step of a migrated record's 有效性 in the system it comes from."""

    validity: Validity
    since: date = Field(description="From this day on")


class ImportHistory(InputSchema):
    """历史数据迁移: the life a record already had in another system (an old CMS), kept with its real dates so that
    reports, the timeliness dashboard (条例第二十六条) and the feeds count it in its own year and days. Only with a
    `review` concluding proactive: the record was public there and is published here under its original date."""

    published_at: datetime = Field(description="When it was published there (with a UTC offset; in the past)")
    validity: Validity = Field(Validity.IN_FORCE, description="有效性 now")
    repeal_date: date | None = Field(None, description="废止日期 (with validity repealed)")
    validity_history: list[ValidityChange] = Field(default_factory=list, max_length=20,
                                                   description="有效性 changes, oldest first")
    index_no: str | None = Field(None, min_length=1, max_length=64, pattern=r"^\S+$", description=(
        "索引号 it had there: kept (it is never changed once given, 实施指引); omitted: numbered in the year of "
        "published_at. One already given to another record is rejected (`index_no_taken`)"))

    @model_validator(mode="after")
    def _consistent(self) -> "ImportHistory":
        if self.published_at.tzinfo is None:
            raise ValueError("published_at needs a UTC offset, e.g. 2025-03-14T09:00:00+08:00")
        if self.published_at > datetime.now(self.published_at.tzinfo):
            raise ValueError("published_at must lie in the past (a migrated record was already published)")
        if (self.validity == Validity.REPEALED) != (self.repeal_date is not None):
            raise ValueError("repeal_date goes with validity repealed, and only with it")
        days = [c.since for c in self.validity_history]
        if days != sorted(days):
            raise ValueError("validity_history must be in date order, oldest first")
        if self.validity_history and self.validity_history[-1].validity != self.validity:
            raise ValueError("the last validity_history entry must be the current validity")
        return self


class BulkRecord(DocumentFields):
    """One record of an organ's document system. The token's `sub` is the source system and its `organ` the
    owner: a record cannot name another organ. Links (interpretation_of, amends, repeals) may point only at the
    organ's own records and the published 联合发文 records it co-issued (a 解读 also at any published record);
    amending or repealing another organ's record is rejected as `foreign_record_link`."""

    external_id: str = Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$",
                             description="The caller's own id of the record (printable ASCII); the upsert key")
    review: ImportReview | None = Field(None, description="Review already done upstream; proactive → published")
    history: ImportHistory | None = Field(None, description="历史数据迁移: the record's real publication date and "
                                                            "validity from the system it comes from; marked migrated")

    @model_validator(mode="after")
    def _one_attribute(self) -> "BulkRecord":
        if self.review and self.proposed_attribute and self.review.conclusion != self.proposed_attribute:
            raise ValueError("proposed_attribute contradicts the review's conclusion")
        return self

    @model_validator(mode="after")
    def _history_of_a_published_record(self) -> "BulkRecord":
        history = self.history
        if history is None:
            return self
        if self.review is None or self.review.conclusion != DisclosureAttribute.PROACTIVE:
            raise ValueError("history (a migrated record) needs the review that made it public: conclusion proactive")
        published_on = history.published_at.astimezone(SHANGHAI).date()
        for name in ("written_date", "formed_on"):
            value = getattr(self, name)
            if value is not None and value > published_on:
                raise ValueError(f"{name} lies after the publication date")
        if history.repeal_date is not None and history.repeal_date < (self.written_date or history.repeal_date):
            raise ValueError("repeal_date lies before the written date (成文日期)")
        return self


@dataclass(frozen=True)
class InvalidRecord:
    """A bulk record that failed validation: kept in its place so the others still apply."""

    external_id: str | None
    errors: list[dict[str, Any]]


def _keep_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError as exc:
        external_id = value.get("external_id") if isinstance(value, dict) else None
        if not (isinstance(external_id, str) and 0 < len(external_id) <= 128):
            external_id = None  # echo only a plausible id, never arbitrary input
        # No `input` in the errors: never echo submitted content back (reliability.md §2.2).
        return InvalidRecord(external_id, [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                                           for e in exc.errors(include_url=False, include_input=False)])


def _any_record(schema: dict[str, Any]) -> None:
    # Each record is validated on its own (_keep_invalid): an invalid one is answered in its result ("rejected",
    # reason invalid), never by a 422 for the batch. So the batch admits any item, and the document says so.
    schema["items"] = {"anyOf": [schema["items"], {"description": "Anything else: rejected on its own"}]}


class BulkImportRequest(InputSchema):
    records: list[Annotated[BulkRecord, WrapValidator(_keep_invalid)]] = Field(
        min_length=1, max_length=MAX_BULK_RECORDS, json_schema_extra=_any_record,
        description=f"At most {MAX_BULK_RECORDS} records; each is validated on its own")


class BulkRecordError(BaseModel):
    loc: list[str | int] = Field(description="Where in the record, e.g. ['doc_number']")
    msg: str
    type: str


class BulkRecordResult(BaseModel):
    index: int = Field(description="Position of the record in the request")
    external_id: str | None
    status: BulkStatus
    published: bool = Field(False, description="The record was published by this call (review concluded proactive)")
    document_id: str | None = None
    reason: BulkRejectReason | None = Field(None, description="Why a record was rejected")
    errors: list[BulkRecordError] | None = None

    @computed_field(description="批量导入结果 · status label")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> Term:
        return label(self.status)  # type: ignore[return-value]

    @computed_field(description="拒绝原因 · reason label")  # type: ignore[prop-decorator]
    @property
    def reason_label(self) -> Term | None:
        return label(self.reason)


class BulkImportSummary(BaseModel):
    received: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    published: int


class BulkImportResult(BaseModel):
    results: list[BulkRecordResult]
    summary: BulkImportSummary


class AttachmentStaffRead(AttachmentRead):
    """An attachment as the organ's staff see it: with the 区分处理 flag."""

    withheld: bool = Field(description="不予公开: never served to the public, whatever the record's state")
    created_by: str
    created_at: datetime


class RecordAttachments(BaseModel):
    """附件清单 of one record for those who may attach to it; the ETag header is the record's version (If-Match of
    the next upload)."""

    document_id: str
    status: DocumentStatus = Field(description="The record's state: files are attached in drafting and review only")
    attachments: list[AttachmentStaffRead] = Field(description="Every attachment, withheld ones included")

    @computed_field(description="状态 · status label")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> Term:
        return label(self.status)  # type: ignore[return-value]


DocumentStaffRead.model_rebuild()  # its attachments are AttachmentStaffRead, defined above after it


# ---- search dictionary (检索词典) -----------------------------------------------------------------------------------

SynonymWord = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^\S(.*\S)?$",
                                   description="one form, e.g. 公租房")]


class SynonymCreate(InputSchema):
    words: list[SynonymWord] = Field(min_length=2, max_length=20, description=(
        "同义词 · two or more forms that mean the same (full name, short name, abbreviation); a query word that is "
        "one of them matches any of them"), examples=[["公共租赁住房", "公租房"]])
    note: str | None = Field(None, max_length=500, description="备注")

    @field_validator("words")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("the forms must be distinct")
        return value


class SynonymUpdate(InputSchema):
    words: list[SynonymWord] | None = Field(None, min_length=2, max_length=20)
    note: str | None = Field(None, max_length=500)

    _distinct = field_validator("words")(lambda cls, v: SynonymCreate._distinct(v) if v is not None else v)


class SynonymRead(Schema):
    id: str
    words: list[str]
    note: str | None
    version: int
    created_at: datetime
    updated_at: datetime


# ---- webhook subscriptions (推送订阅) -------------------------------------------------------------------------------

# The default of a new subscription: the catalogue's public changes. `application.status_changed` (the request
# service's application status for partner platforms, no personal data: domain/application_feed.py) is asked for.
DOCUMENT_EVENT_TYPES = ("document.published", "document.updated", "document.withdrawn", "document.repealed",
                        "document.removed")
WEBHOOK_EVENT_TYPES = (*DOCUMENT_EVENT_TYPES, "application.status_changed")
WebhookEventType = Literal["document.published", "document.updated", "document.withdrawn", "document.repealed",
                           "document.removed", "application.status_changed"]


class WebhookSubscriptionCreate(InputSchema):
    url: str = Field(min_length=8, max_length=2048, description="https:// address that receives the deliveries",
                     examples=["https://sync.example.gov.cn/gongkai/webhook"])
    organ_code: str | None = Field(None, description="The organ whose records (and its subordinates') are pushed; "
                                                     "default: the token's organ. Must be within the token's organ.")
    event_types: list[WebhookEventType] = Field(
        default_factory=lambda: list(DOCUMENT_EVENT_TYPES), min_length=1, max_length=len(WEBHOOK_EVENT_TYPES),
        description="Which changes to push (default: the five document types). `document.removed`: a record that is "
                    "no longer public when its delivery is sent (a tombstone: it never says why). "
                    "`application.status_changed` (申请办理状态): an application to the organ or a subordinate moved "
                    "on — tracking number, organ, status, statutory due date and time only, never the applicant")
    description: str | None = Field(None, max_length=200)

    @field_validator("organ_code")
    @classmethod
    def _valid_code(cls, value: str | None) -> str | None:
        return normalize_organ_code(value) if value is not None else None

    @field_validator("event_types")
    @classmethod
    def _distinct_types(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class WebhookSubscriptionUpdate(InputSchema):
    url: str | None = Field(None, min_length=8, max_length=2048)
    event_types: list[WebhookEventType] | None = Field(None, min_length=1, max_length=len(WEBHOOK_EVENT_TYPES))
    description: str | None = Field(None, max_length=200)
    status: Literal["active", "disabled"] | None = Field(
        None, description="`active` re-enables a subscription disabled for failing; pending deliveries resume in order")

    _distinct = field_validator("event_types")(
        lambda cls, v: WebhookSubscriptionCreate._distinct_types(v) if v is not None else v)


class WebhookSubscriptionRead(Schema):
    id: str
    url: str
    organ_code: str
    event_types: list[str]
    description: str | None
    status: WebhookStatus
    disabled_reason: str | None = Field(description="Why the platform disabled it (failing for days)")
    failing_since: datetime | None
    last_seq: int = Field(description="Sequence number of the newest delivery; replay from any number up to it")
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation: until when the previous secret still signs deliveries")
    version: int
    created_at: datetime
    updated_at: datetime

    @computed_field(description="订阅状态 · status label")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> Term:
        return label(self.status)  # type: ignore[return-value]


class WebhookSecret(BaseModel):
    subscription: WebhookSubscriptionRead
    secret: str = Field(description="whsec_… signing secret (Standard Webhooks); shown only now, keep it safe")


class WebhookReplay(InputSchema):
    from_seq: int = Field(ge=1, le=2**31 - 1, description="Send again every delivery from this sequence number on")


class WebhookReplayResult(BaseModel):
    requeued: int


class WebhookAttemptRead(Schema):
    attempted_at: datetime
    status_code: int | None
    ok: bool
    latency_ms: int
    error: str | None
    response_excerpt: str | None


class WebhookDeliveryRead(Schema):
    id: str = Field(description="The `webhook-id` header of this delivery (the same on every retry)")
    seq: int
    event_type: str
    document_id: str | None = Field(description="The record's id; none for an application status delivery")
    tracking_no: str | None = Field(None, description="申请编号 of an application status delivery")
    occurred_at: datetime
    status: DeliveryStatus = Field(
        description="skipped: when it was due, what it had become (e.g. a removal) was not among your event types")
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_attempt: WebhookAttemptRead | None = None

    @computed_field(description="推送状态 · status label")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> Term:
        return label(self.status)  # type: ignore[return-value]


class WebhookDeliveryDetail(WebhookDeliveryRead):
    log: list[WebhookAttemptRead] = Field(description="Every attempt, oldest first (delivery log)")


# ---- 公开目录栏目 (catalogue columns) and the 解读 duty (issue 16) -----------------------------------------------

STATUTORY_DATE = r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


class ColumnFields(InputSchema):
    name: str = Field(min_length=1, max_length=200, description="栏目名称, e.g. 工作动态")
    rule: ColumnRule = Field(description="更新要求: interval (every N units), statutory (every year by MM-DD), "
                                         "when_changed (updated when the matter changes)")
    every: int | None = Field(None, ge=1, le=366, description="interval: N")
    unit: IntervalUnit | None = Field(None, description="interval: the unit of N")
    statutory_date: str | None = Field(None, pattern=STATUTORY_DATE, description="statutory: MM-DD, e.g. 01-31")
    note: str | None = Field(None, max_length=2000, description="备注说明: why the column is legitimately empty")
    genres: list[Genre] = Field(default_factory=list, max_length=20,
                                description="records of these 体裁 are placed here")
    subject_categories: list[SubjectCategory] = Field(default_factory=list, max_length=30,
                                                      description="records of these 主题分类 are placed here")


def _rule_shape(rule: str | None, every: int | None, unit: str | None, statutory_date: str | None) -> None:
    if rule == "interval" and (every is None or unit is None):
        raise ValueError("an interval rule needs `every` and `unit`")
    if rule == "statutory" and statutory_date is None:
        raise ValueError("a statutory rule needs `statutory_date` (MM-DD)")


class ColumnCreate(ColumnFields):
    """A column of an organ's catalogue (admin)."""

    organ_code: str = Field(min_length=9, max_length=18, description="the organ whose catalogue it belongs to")

    @field_validator("organ_code")
    @classmethod
    def _organ_code(cls, value: str) -> str:
        return normalize_organ_code(value)

    @model_validator(mode="after")
    def _shape(self) -> "ColumnCreate":
        _rule_shape(self.rule, self.every, self.unit, self.statutory_date)
        return self


class ColumnUpdate(InputSchema):
    """Changes to a column (If-Match); fields left out stay. `active: false` retires it (not scored any more)."""

    name: str = Field(None, min_length=1, max_length=200)  # type: ignore[assignment]
    rule: ColumnRule = Field(None)  # type: ignore[assignment]
    every: int | None = Field(None, ge=1, le=366)
    unit: IntervalUnit | None = None
    statutory_date: str | None = Field(None, pattern=STATUTORY_DATE)
    note: str | None = Field(None, max_length=2000)
    genres: list[Genre] = Field(None, max_length=20)  # type: ignore[assignment]
    subject_categories: list[SubjectCategory] = Field(None, max_length=30)  # type: ignore[assignment]
    active: bool = Field(None)  # type: ignore[assignment]


class ColumnRead(Schema):
    id: str
    organ_code: str
    name: str
    rule: ColumnRule
    every: int | None
    unit: IntervalUnit | None
    statutory_date: str | None
    note: str | None
    genres: list[Genre]
    subject_categories: list[SubjectCategory]
    active: bool
    version: int
    created_at: datetime

    @computed_field(description="栏目更新要求 · rule label")  # type: ignore[prop-decorator]
    @property
    def rule_label(self) -> Term:
        return label(self.rule)  # type: ignore[return-value]

    @computed_field(description="周期单位 · unit label")  # type: ignore[prop-decorator]
    @property
    def unit_label(self) -> Term | None:
        return label(self.unit)

    @computed_field(description="体裁 · labels, in the order of genres")  # type: ignore[prop-decorator]
    @property
    def genre_labels(self) -> list[Term]:
        return labels(self.genres)

    @computed_field(description="主题分类 · labels, in the order of subject_categories")  # type: ignore[prop-decorator]
    @property
    def subject_category_labels(self) -> list[Term]:
        return labels(self.subject_categories)


class InterpretationDutyItem(Schema):
    """A published policy due a 解读 (行政规范性文件 or flagged major policy)."""

    id: str
    index_no: str | None
    title: str
    genre: str | None
    major_policy: bool
    published_at: datetime | None
    interpretation_due_on: date | None
    interpreted: bool = Field(description="a public 解读 names it")
    overdue: bool = Field(description="no public 解读 and its deadline has passed")


class ValidityReviewItem(Schema):
    """A record in force whose 有效期 ends soon or has ended: to assess (评估), then renew, amend or repeal it."""

    id: str
    index_no: str | None
    title: str
    genre: str | None
    doc_number: str | None
    effective_date: date | None
    expires_on: date = Field(description="有效期届满 · last day in force")
    review_from: date = Field(description="the reminder opened (CATALOG_VALIDITY_REVIEW_MONTHS before expires_on)")
    overdue: bool = Field(description="expires_on has passed and the record is still marked in force")


class InForceItem(Schema):
    """现行有效 · a public record in force on the day asked."""

    id: str
    index_no: str | None
    title: str
    genre: str | None
    doc_number: str | None
    validity: Validity = Field(description="有效性 now (the filter is on the day asked)")
    effective_date: date | None = Field(description="施行日期, else 成文日期")
    expires_on: date | None
    ceased_on: date | None

    @computed_field(description="效力状态 · validity label (now)")  # type: ignore[prop-decorator]
    @property
    def validity_label(self) -> Term:
        return label(self.validity)  # type: ignore[return-value]


class InterpretationSummary(BaseModel):
    organ_code: str
    as_of: date
    due_working_days: int = Field(description="CATALOG_INTERPRETATION_DUE_WORKING_DAYS")
    policies: int = Field(description="published policies due a 解读")
    interpreted: int
    ratio: float | None = Field(description="interpreted / policies, 4 places; null without policies")
    overdue: int


# ---- 基层政务公开标准目录 (standard catalogues, issue 16 item 4) ------------------------------------------------
# One area's 标准目录 (国办发〔2019〕54号 26 areas) as data: its items with the seven elements of the 标准指引
# (公开事项, 公开内容(要素), 公开依据, 公开时限, 公开主体, 公开渠道和载体, 公开对象, 公开方式), the 公开时限 also
# as a rule the platform computes with, and the rules that map an organ's records to an item.


TimeLimitKind = Literal["on_change", "after_event", "periodic", "yearly", "when_changed"]
_LIMIT_NEEDS = {"on_change": ("working_days",), "after_event": ("days", "event"), "periodic": ("every", "unit"),
                "yearly": ("by",), "when_changed": ()}


class TimeLimit(InputSchema):
    """公开时限 as a rule (one flat object, as a column's update rule): `on_change` — 自信息形成或变更之日起
    `working_days` 个工作日内 (due per change: each record has its own deadline); `after_event` — `days` calendar
    days after `event` (e.g. 本级人民代表大会或其常务委员会批准后20日内); `periodic` — every `every` `unit`
    (month / quarter / year, counted from January), within `working_days` working days after the period's end (0 or
    none: by its end); `yearly` — every year by `by` (MM-DD); `when_changed` — 实时、及时、长期公开, no date."""

    kind: TimeLimitKind
    working_days: int | None = Field(None, ge=0, le=250)
    days: int | None = Field(None, ge=1, le=366)
    event: str | None = Field(None, min_length=1, max_length=200)
    every: int | None = Field(None, ge=1, le=12)
    unit: Literal["month", "quarter", "year"] | None = None
    by: str | None = Field(None, pattern=STATUTORY_DATE)

    @model_validator(mode="after")
    def _shape(self) -> "TimeLimit":
        missing = [f for f in _LIMIT_NEEDS[self.kind] if getattr(self, f) is None]
        if self.kind == "on_change" and not self.working_days:
            missing = ["working_days"]
        if missing:
            raise ValueError(f"公开时限规则 {self.kind} 缺少 {', '.join(missing)}")
        return self


class StandardMatch(InputSchema):
    """Which of the adopting organ's public records are this item's (any rule matches; explicit mappings too)."""

    genres: list[Genre] = Field(default_factory=list, max_length=20, description="体裁")
    subject_categories: list[SubjectCategory] = Field(default_factory=list, max_length=30, description="主题分类")
    keywords: list[str] = Field(default_factory=list, max_length=20,
                                description="标题关键词: a record whose title contains one of them")

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        if any(not k.strip() or len(k) > 50 for k in value):
            raise ValueError("关键词不能为空，且不超过50个字")
        return [k.strip() for k in value]


class StandardItem(InputSchema):
    """公开事项 · one item of the list."""

    key: str = Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z._-]+$", description="序号 / stable key")
    level1: str = Field(min_length=1, max_length=200, description="一级事项")
    title: str = Field(min_length=1, max_length=200, description="二级事项 (the item)")
    content: str = Field(min_length=1, max_length=4000, description="公开内容（要素）")
    basis: str = Field(min_length=1, max_length=4000, description="公开依据")
    time_limit_text: str = Field(min_length=1, max_length=500, description="公开时限 as the source words it")
    time_limit: TimeLimit = Field(description="公开时限 as a rule")
    publisher: str = Field(min_length=1, max_length=200, description="公开主体")
    channels: list[str] = Field(default_factory=list, max_length=20, description="公开渠道和载体")
    audience: list[Literal["全社会", "特定群体"]] = Field(default_factory=list, description="公开对象")
    modes: list[Literal["主动", "依申请"]] = Field(default_factory=list, description="公开方式")
    match: StandardMatch = Field(default_factory=StandardMatch)


class StandardSource(InputSchema):
    """Where the list comes from (named: document title, issuing body, date, address, and what was transcribed)."""

    title: str = Field(min_length=1, max_length=500)
    issuer: str = Field(min_length=1, max_length=200)
    date: str | None = Field(None, max_length=20)
    url: str | None = Field(None, max_length=1000)
    note: str | None = Field(None, max_length=2000)


class StandardCatalogueImport(InputSchema):
    """A standard catalogue (admin import); importing a code again stores its next version."""

    code: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-z._-]+$")
    area: str = Field(min_length=1, max_length=100, description="领域, e.g. 财政预决算")
    title: str = Field(min_length=1, max_length=500)
    source: StandardSource
    entries: list[StandardItem] = Field(min_length=1, max_length=500, description="公开事项")

    @field_validator("entries")
    @classmethod
    def _unique_keys(cls, items: list[StandardItem]) -> list[StandardItem]:
        keys = [i.key for i in items]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError("公开事项序号重复: " + ", ".join(duplicates))
        return items


class StandardCatalogueRead(Schema):
    id: str
    code: str
    version: int
    area: str
    title: str
    source: dict
    entries: list[dict] = Field(description="公开事项 (a catalogue, not a list page: hence not `items`)")
    imported_by: str
    created_at: datetime


class StandardAdoptionCreate(InputSchema):
    """An organ adopts a catalogue, all of it or the items it names (admin)."""

    organ_code: str = Field(min_length=9, max_length=18)
    catalogue_id: str = Field(min_length=1, max_length=36)
    item_keys: list[str] | None = Field(None, max_length=500, description="the adopted items; all when left out")
    adopted_on: date | None = Field(None, description="采用日期 (default today, Beijing): items are due from it")

    @field_validator("organ_code")
    @classmethod
    def _organ_code(cls, value: str) -> str:
        return normalize_organ_code(value)


class StandardAdoptionRead(Schema):
    id: str
    organ_code: str
    catalogue_id: str
    catalogue_code: str
    catalogue_version: int
    area: str
    item_keys: list[str]
    adopted_on: date
    version: int
    created_at: datetime


class StandardMappingCreate(InputSchema):
    """Staff map one of their organ's records to an adopted item explicitly."""

    item_key: str = Field(min_length=1, max_length=40)
    document_id: str = Field(min_length=1, max_length=36)


class StandardMappingRead(Schema):
    id: str
    adoption_id: str
    item_key: str
    document_id: str
    mapped_on: date
    mapped_by: str


class CoverageRecord(Schema):
    id: str
    index_no: str | None
    title: str
    published_on: date
    mapped: MappingBasis = Field(description="by the item's rules or by staff")

    @computed_field(description="映射方式 · how the record is mapped, labelled")  # type: ignore[prop-decorator]
    @property
    def mapped_label(self) -> Term:
        return label(self.mapped)  # type: ignore[return-value]


class CoverageItem(Schema):
    id: str = Field(description="<adoption id>:<item key> (the scorecard's drill-down id)")
    adoption_id: str
    catalogue_code: str
    key: str
    title: str
    time_limit_text: str
    time_limit: dict
    covered: bool = Field(description="at least one mapped record public on the day")
    last_published_on: date | None
    next_due_on: date | None = Field(description="periodic / yearly items: on the working-day calendar; "
                                                 "event-driven ones (on_change, after_event, when_changed): null")
    next_due_provisional: bool
    overdue: bool
    records: list[CoverageRecord]


class StandardCoverageReport(Schema):
    organ_code: str
    as_of: date
    adopted: int = Field(description="adopted items (of adoptions made by the day)")
    covered: int
    coverage: float | None = Field(description="covered / adopted, 4 places; null with nothing adopted")
    entries: list[CoverageItem] = Field(description="every adopted item (a report, not a list page)")
