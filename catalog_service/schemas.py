"""Pydantic I/O of the catalogue. Create/Update bodies forbid unknown fields (no mass assignment)."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from catalog_service.codes import normalize_organ_code
from catalog_service.vocab import Genre, KeyArea, OrganKind, SubjectCategory, Validity
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


class DocumentPublicRead(Schema):
    """A published record as the public sees it."""

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


class VocabularyRead(BaseModel):
    vocabularies: dict[str, list[Term]]
