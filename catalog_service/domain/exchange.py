"""Exchange formats (交换格式) of the published catalogue, for integrating agencies: two export profiles of the
public record (公开版本 — the same view `GET /documents/{id}`, the change feed and the snapshot serve), each with a
validator (a Pydantic model, whose JSON Schema is published), and the way back to a bulk-import record, so that an
export imported into another Gongkai loses no public field.

* `dcat-jsonld` — JSON-LD 1.1 with W3C DCAT 3 and DCMI Metadata Terms: a record is a `dcat:Dataset`, each public
  attachment a `dcat:Distribution`; what DCAT/DCMI have no term for (文号, 有效性, 实施/废止日期, 正文, 解读) is in the
  `gk:` namespace, so nothing is lost. Terms used (and why):
    @id urn:uuid:<id> · dct:identifier 索引号 · dct:title 名称 · dct:description 内容概述 · dct:created 成文日期
    (DCMI "date of creation": the statute's 生成日期) · dct:issued 发布日期 · dct:modified last change ·
    dct:publisher foaf:Organization (foaf:name, dct:identifier = 统一社会信用代码/组织机构代码) ·
    dct:subject 主题分类 and
    dct:type 体裁分类 as skos:Concept (skos:notation code, skos:prefLabel label) · dcat:theme 重点领域 · dcat:keyword
    关键词 · dct:language ZHO (EU language authority, as DCAT-AP) · dcat:landingPage · dct:accessRights PUBLIC ·
    gk:docNumber 文号 · gk:validity 有效性 · gk:effectiveDate 实施日期 · gk:repealDate 废止日期 · gk:body 正文 ·
    gk:interpretationOf 解读对象. Distribution: dct:title file name, dcat:mediaType (IANA), dcat:byteSize,
    dcat:downloadURL, spdx:checksum (SHA-256). No dct:license: the catalogue records none.
* `jiyuehua` — the metadata record of a province's 集约化 unified information-resource library (统一信息资源库,
  国办函〔2018〕71号): Chinese element names as local platforms publish them (spec legal-rules.md §4), see FIELDS.

Import (catalog_service/importer.py): a profile record becomes a bulk record of the token's organ — external_id the
record's id in the exporting catalogue, `review` concluding proactive, `history` with its real publication date,
validity, repeal date and its 索引号 — so it is published there under its own date and number.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain.documents import load_document, public_read, public_reads
from catalog_service.domain.organs import get_organ_by_code
from catalog_service.domain.visibility import visible_documents
from catalog_service.models import Document
from catalog_service.schemas import SHANGHAI, DocumentPublicRead
from catalog_service.vocab import Genre, KeyArea, SubjectCategory, Validity
from services.auth import ANONYMOUS
from services.pagination import keyset_page

__all__ = ["CONTEXT", "PROFILES", "FIELDS", "from_profile", "to_profile", "validate"]

GK = "urn:gongkai:terms:"  # not dereferenceable: a name for the terms this module defines (see the module doc)
ZHO = "http://publications.europa.eu/resource/authority/language/ZHO"
PUBLIC = "http://publications.europa.eu/resource/authority/access-right/PUBLIC"
IANA = "https://www.iana.org/assignments/media-types/"
CONTEXT: dict[str, Any] = {
    "@version": 1.1,
    "@language": "zh-CN",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "gk": GK,
    "items": "@graph",  # the page envelope's records are the graph; next_cursor/has_more/total are not RDF
    "dct:identifier": {"@language": None},
    "skos:notation": {"@language": None},
    "gk:docNumber": {"@language": None},
    "dct:created": {"@type": "xsd:date"},
    "dct:issued": {"@type": "xsd:dateTime"},
    "dct:modified": {"@type": "xsd:dateTime"},
    "gk:effectiveDate": {"@type": "xsd:date"},
    "gk:repealDate": {"@type": "xsd:date"},
    "dcat:byteSize": {"@type": "xsd:nonNegativeInteger"},
    "spdx:checksumValue": {"@type": "xsd:hexBinary"},
    "dcat:landingPage": {"@type": "@id"},
    "dcat:downloadURL": {"@type": "@id"},
    "dcat:mediaType": {"@type": "@id"},
    "dct:language": {"@type": "@id"},
    "dct:accessRights": {"@type": "@id"},
    "spdx:algorithm": {"@type": "@id"},
    "gk:interpretationOf": {"@type": "@id"},
}
PROFILES = ("dcat-jsonld", "jiyuehua")
Profile = Literal["dcat-jsonld", "jiyuehua"]

# The 集约化 profile's elements: (element, what it holds, source). legal-rules.md §4.1 (条例第十二条: 索引,
# 名称, 内容概述, 生成日期), §4.2 (实施指引 core metadata: 索引号 "前段码/后段码", 名称, 内容概述),
# §4.3 (elements seen on local platforms).
FIELDS: list[tuple[str, str, str]] = [
    ("信息标识", "the record's id in the exporting catalogue (UUID)", "platform key (统一信息资源库 needs one)"),
    ("索引号", "index number, never changed once given", "条例第十二条; 实施指引 core metadata"),
    ("名称", "title (main title only)", "条例第十二条; 实施指引 core metadata"),
    ("内容概述", "summary", "条例第十二条; 实施指引 core metadata"),
    ("发布机构", "{名称, 代码}: publishing (lead) organ, 统一社会信用代码 or 组织机构代码",
     "实施指引; local platforms"),
    ("成文日期", "date written (生成日期)", "条例第十二条 生成日期; gov.cn, local platforms"),
    ("发布日期", "publication date-time, with offset", "gov.cn; local platforms"),
    ("文号", "document number, e.g. 穗府办〔2011〕8号", "gov.cn; local platforms"),
    ("主题分类", "{代码, 名称}: 国务院公文主题分类", "gov.cn; local platforms"),
    ("体裁分类", "{代码, 名称}: genre", "local platforms (实施指引 copies)"),
    ("重点领域", "[{代码, 名称}]: key areas of disclosure", "local platforms (重点领域信息公开)"),
    ("关键词", "[keywords] (主题词)", "gov.cn; local platforms"),
    ("有效性", "{代码, 名称}: 现行有效 / 已修订 / 已废止 / 已失效", "local platforms"),
    ("实施日期", "effective date", "住建部 and local platforms"),
    ("废止日期", "repeal date", "住建部 and local platforms"),
    ("公开方式", "always 主动公开 in an export", "local catalogue rules (公开属性)"),
    ("正文", "public body text (redactions applied)", "统一信息资源库 stores the content itself"),
    ("解读对象", "信息标识 of the policy a 解读 explains", "政策解读 linkage on local platforms"),
    ("附件", "[{标识, 名称, 格式, 大小, SHA256, 下载地址}]", "统一信息资源库 attachments"),
    ("详情地址", "public link of the record", "local platforms (链接地址)"),
    ("更新时间", "last change, date-time with offset", "local platforms (信息更新时间)"),
]

Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1)]


# ---- validators (the profiles' schemas) -----------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Open(BaseModel):  # JSON-LD may carry more terms than the profile's; they are ignored on import
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _concept(enum: type) -> type[BaseModel]:
    class Concept(_Open):
        type_: Literal["skos:Concept"] = Field(alias="@type")
        notation: enum = Field(alias="skos:notation")  # type: ignore[valid-type]
        label: Text = Field(alias="skos:prefLabel")

    Concept.__name__ = f"{enum.__name__}Concept"
    return Concept


SubjectConcept, GenreConcept, KeyAreaConcept, ValidityConcept = (
    _concept(SubjectCategory), _concept(Genre), _concept(KeyArea), _concept(Validity))


class DcatChecksum(_Open):
    type_: Literal["spdx:Checksum"] = Field(alias="@type")
    algorithm: Literal["spdx:checksumAlgorithm_sha256"] = Field(alias="spdx:algorithm")
    value: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(alias="spdx:checksumValue")


class DcatDistribution(_Open):
    id_: Annotated[str, StringConstraints(pattern=r"^urn:uuid:")] = Field(alias="@id")
    type_: Literal["dcat:Distribution"] = Field(alias="@type")
    title: Text = Field(alias="dct:title")
    media_type: Annotated[str, StringConstraints(pattern=f"^{IANA}")] = Field(alias="dcat:mediaType")
    byte_size: int = Field(alias="dcat:byteSize", ge=0)
    download_url: Text = Field(alias="dcat:downloadURL")
    checksum: DcatChecksum = Field(alias="spdx:checksum")


class DcatPublisher(_Open):
    type_: Literal["foaf:Organization"] = Field(alias="@type")
    name: Text = Field(alias="foaf:name")
    identifier: Code = Field(alias="dct:identifier")


class DcatDataset(_Open):
    """A published record as a dcat:Dataset (JSON-LD, compacted with CONTEXT)."""

    context: Any = Field(None, alias="@context", description="CONTEXT; on each record or once on the page")
    id_: Annotated[str, StringConstraints(pattern=r"^urn:uuid:[0-9a-f-]{36}$")] = Field(alias="@id")
    type_: Literal["dcat:Dataset"] = Field(alias="@type")
    identifier: Code | None = Field(alias="dct:identifier", description="索引号")
    title: Text = Field(alias="dct:title", description="名称")
    description: str | None = Field(None, alias="dct:description", description="内容概述")
    created: date | None = Field(None, alias="dct:created", description="成文日期")
    issued: AwareDatetime = Field(alias="dct:issued", description="发布日期")
    modified: AwareDatetime | None = Field(None, alias="dct:modified")
    publisher: DcatPublisher = Field(alias="dct:publisher", description="发布机构")
    subject: SubjectConcept | None = Field(None, alias="dct:subject", description="主题分类")  # type: ignore[valid-type]
    genre: GenreConcept | None = Field(None, alias="dct:type", description="体裁分类")  # type: ignore[valid-type]
    theme: list[KeyAreaConcept] = Field(default_factory=list, alias="dcat:theme",  # type: ignore[valid-type]
                                        description="重点领域")
    keyword: list[Text] = Field(default_factory=list, alias="dcat:keyword", description="关键词")
    language: Literal[ZHO] = Field(alias="dct:language")  # type: ignore[valid-type]
    access_rights: Literal[PUBLIC] = Field(alias="dct:accessRights")  # type: ignore[valid-type]
    landing_page: str | None = Field(None, alias="dcat:landingPage")
    doc_number: str | None = Field(None, alias="gk:docNumber", description="文号")
    validity: ValidityConcept = Field(alias="gk:validity", description="有效性")  # type: ignore[valid-type]
    effective_date: date | None = Field(None, alias="gk:effectiveDate", description="实施日期")
    repeal_date: date | None = Field(None, alias="gk:repealDate", description="废止日期")
    body: str = Field(alias="gk:body", description="正文 (public text)")
    interpretation_of: Annotated[str, StringConstraints(pattern=r"^urn:uuid:")] | None = Field(
        None, alias="gk:interpretationOf", description="解读对象")
    distribution: list[DcatDistribution] = Field(default_factory=list, alias="dcat:distribution")


class JiyuehuaTerm(_Strict):
    代码: Code
    名称: Text


class JiyuehuaOrgan(_Strict):
    名称: Text
    代码: Code


class JiyuehuaAttachment(_Strict):
    标识: Code
    名称: Text
    格式: Text
    大小: int = Field(ge=0)
    SHA256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    下载地址: Text


class JiyuehuaRecord(_Strict):
    """A published record as a 集约化 information-resource library metadata record (element names: FIELDS)."""

    信息标识: Code
    索引号: Code | None
    名称: Text
    内容概述: str | None = None
    发布机构: JiyuehuaOrgan
    成文日期: date | None = None
    发布日期: AwareDatetime
    文号: str | None = None
    主题分类: JiyuehuaTerm | None = None
    体裁分类: JiyuehuaTerm | None = None
    重点领域: list[JiyuehuaTerm] = Field(default_factory=list)
    关键词: list[Text] = Field(default_factory=list)
    有效性: JiyuehuaTerm
    实施日期: date | None = None
    废止日期: date | None = None
    公开方式: Literal["主动公开"]
    正文: str
    解读对象: Code | None = None
    附件: list[JiyuehuaAttachment] = Field(default_factory=list)
    详情地址: str | None = None
    更新时间: AwareDatetime | None = None


MODELS: dict[str, type[BaseModel]] = {"dcat-jsonld": DcatDataset, "jiyuehua": JiyuehuaRecord}
# Coded elements of the 集约化 record and their vocabularies (a code outside them is invalid).
_JIYUEHUA_CODES = {"主题分类": SubjectCategory, "体裁分类": Genre, "有效性": Validity}


def validate(profile: Profile, record: Any) -> list[dict[str, Any]]:
    """The profile's errors in one record (loc, msg, type), empty when it is valid. Never echoes the input."""
    try:
        MODELS[profile].model_validate(record)
    except ValueError as exc:  # pydantic.ValidationError
        return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)]  # type: ignore[attr-defined]
    errors: list[dict[str, Any]] = []
    if profile == "jiyuehua":
        for name, vocabulary in _JIYUEHUA_CODES.items():
            term = record.get(name)
            if term is not None and term["代码"] not in {m.value for m in vocabulary}:
                errors.append({"loc": [name, "代码"], "msg": f"not a code of {vocabulary.__doc__}",
                               "type": "unknown_code"})
        for i, term in enumerate(record.get("重点领域") or []):
            if term["代码"] not in {m.value for m in KeyArea}:
                errors.append({"loc": ["重点领域", i, "代码"], "msg": "not a 重点领域 code", "type": "unknown_code"})
    return errors


def schema(profile: Profile) -> dict[str, Any]:
    return MODELS[profile].model_json_schema(by_alias=True)


# ---- export -----------------------------------------------------------------------------------------------------

def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat().replace(
        "+00:00", "Z")


def _day(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}


def _skos(member: Any) -> dict[str, Any] | None:
    return None if member is None else {"@type": "skos:Concept", "skos:notation": member.value,
                                        "skos:prefLabel": member.zh}


def _term(member: Any) -> dict[str, str] | None:
    return None if member is None else {"代码": member.value, "名称": member.zh}


def to_dcat(view: DocumentPublicRead, modified: datetime | None, links: "Links") -> dict[str, Any]:
    return _drop_none({
        "@id": f"urn:uuid:{view.id}", "@type": "dcat:Dataset",
        "dct:identifier": view.index_no, "dct:title": view.title, "dct:description": view.summary,
        "dct:created": _day(view.written_date), "dct:issued": _iso(view.published_at), "dct:modified": _iso(modified),
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": view.organ_name,
                          "dct:identifier": view.organ_code},
        "dct:subject": _skos(view.subject_category), "dct:type": _skos(view.genre),
        "dcat:theme": [_skos(k) for k in view.key_areas], "dcat:keyword": list(view.keywords),
        "dct:language": ZHO, "dct:accessRights": PUBLIC, "dcat:landingPage": links.document(view.id),
        "gk:docNumber": view.doc_number, "gk:validity": _skos(view.validity),
        "gk:effectiveDate": _day(view.effective_date), "gk:repealDate": _day(view.repeal_date),
        "gk:body": view.body,
        "gk:interpretationOf": f"urn:uuid:{view.interpretation_of}" if view.interpretation_of else None,
        "dcat:distribution": [{
            "@id": f"urn:uuid:{a.id}", "@type": "dcat:Distribution", "dct:title": a.filename,
            "dcat:mediaType": IANA + a.content_type, "dcat:byteSize": a.size,
            "dcat:downloadURL": links.attachment(view.id, a.id),
            "spdx:checksum": {"@type": "spdx:Checksum", "spdx:algorithm": "spdx:checksumAlgorithm_sha256",
                              "spdx:checksumValue": a.sha256}} for a in view.attachments],
    })


def to_jiyuehua(view: DocumentPublicRead, modified: datetime | None, links: "Links") -> dict[str, Any]:
    return _drop_none({
        "信息标识": view.id, "索引号": view.index_no, "名称": view.title, "内容概述": view.summary,
        "发布机构": {"名称": view.organ_name, "代码": view.organ_code}, "成文日期": _day(view.written_date),
        "发布日期": _iso(view.published_at), "文号": view.doc_number, "主题分类": _term(view.subject_category),
        "体裁分类": _term(view.genre), "重点领域": [_term(k) for k in view.key_areas], "关键词": list(view.keywords),
        "有效性": _term(view.validity), "实施日期": _day(view.effective_date), "废止日期": _day(view.repeal_date),
        "公开方式": "主动公开", "正文": view.body, "解读对象": view.interpretation_of,
        "附件": [{"标识": a.id, "名称": a.filename, "格式": a.content_type, "大小": a.size, "SHA256": a.sha256,
                "下载地址": links.attachment(view.id, a.id)} for a in view.attachments],
        "详情地址": links.document(view.id), "更新时间": _iso(modified),
    }) | {"索引号": view.index_no}  # present even when null: the element is mandatory (实施指引)


class Links:
    """Public links on the platform's configured address (never the request's Host)."""

    def __init__(self, base_url: str, document_link: Any) -> None:
        self.base_url, self._document = base_url, document_link

    def document(self, document_id: str) -> str:
        return self._document(document_id)[0]

    def attachment(self, document_id: str, attachment_id: str) -> str:
        return f"{self.base_url}/api/v1/catalog/documents/{document_id}/attachments/{attachment_id}"


def to_profile(profile: Profile, view: DocumentPublicRead, modified: datetime | None, links: Links
               ) -> dict[str, Any]:
    return (to_dcat if profile == "dcat-jsonld" else to_jiyuehua)(view, modified, links)


async def export_page(session: AsyncSession, profile: Profile, links: Links, *, organ_code: str | None,
                      after: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the published catalogue in a profile, in id order (keyset), the public view only: the same
    visibility rule as every public read (visible_documents(ANONYMOUS)), so nothing unpublished, classified or
    withdrawn is ever exported."""
    stmt = visible_documents(ANONYMOUS)
    if organ_code is not None:
        organ = await get_organ_by_code(session, organ_code)
        stmt = stmt.where(Document.organ_id == organ.id)
    docs, next_cursor = await keyset_page(session, stmt, [(Document.id, False)], after, limit, lambda d: [d.id])
    views = await public_reads(session, docs)
    return [to_profile(profile, view, doc.updated_at, links) for doc, view in zip(docs, views, strict=True)], \
        next_cursor


async def export_one(session: AsyncSession, profile: Profile, links: Links, document_id: str) -> dict[str, Any]:
    """One published record in a profile (404 for anything the public cannot see, as GET /documents/{id})."""
    doc = await load_document(session, ANONYMOUS, document_id)
    return to_profile(profile, await public_read(session, doc), doc.updated_at, links)


# ---- import -----------------------------------------------------------------------------------------------------

def detect(record: Any) -> Profile | None:
    """Which profile a record is in (None: neither — a plain bulk record)."""
    if isinstance(record, dict):
        if record.get("@type") == "dcat:Dataset":
            return "dcat-jsonld"
        if "信息标识" in record and "名称" in record:
            return "jiyuehua"
    return None


def _uuid(urn: str | None) -> str | None:
    return urn.removeprefix("urn:uuid:") if urn else None


def from_profile(profile: Profile, record: dict[str, Any], *, reviewer: str) -> dict[str, Any]:
    """The bulk-import record (POST /documents/bulk) for one valid profile record: every public field, the id as
    external_id, published under its own date, validity and 索引号 (history), the review that made it public; and
    the files it lists (attachments: filename, media_type, size, sha256, url), which the bulk import does not carry."""
    if profile == "dcat-jsonld":
        d = DcatDataset.model_validate(record)
        fields = {
            "external_id": _uuid(d.id_), "index_no": d.identifier, "title": d.title, "summary": d.description,
            "doc_number": d.doc_number, "subject_category": d.subject.notation if d.subject else None,
            "genre": d.genre.notation if d.genre else None, "key_areas": [t.notation for t in d.theme],
            "keywords": d.keyword, "written_date": d.created, "effective_date": d.effective_date,
            "body": d.body, "interpretation_of": _uuid(d.interpretation_of), "published_at": d.issued,
            "validity": d.validity.notation, "repeal_date": d.repeal_date, "organ": d.publisher.identifier}
        files = [{"filename": f.title, "media_type": f.media_type.removeprefix(IANA), "size": f.byte_size,
                  "sha256": f.checksum.value, "url": f.download_url} for f in d.distribution]
    else:
        j = JiyuehuaRecord.model_validate(record)
        fields = {
            "external_id": j.信息标识, "index_no": j.索引号, "title": j.名称, "summary": j.内容概述,
            "doc_number": j.文号, "subject_category": j.主题分类.代码 if j.主题分类 else None,
            "genre": j.体裁分类.代码 if j.体裁分类 else None,
            "key_areas": [t.代码 for t in j.重点领域], "keywords": j.关键词, "written_date": j.成文日期,
            "effective_date": j.实施日期, "body": j.正文, "interpretation_of": j.解读对象, "published_at": j.发布日期,
            "validity": j.有效性.代码, "repeal_date": j.废止日期, "organ": j.发布机构.代码}
        files = [{"filename": a.名称, "media_type": a.格式, "size": a.大小, "sha256": a.SHA256, "url": a.下载地址}
                 for a in j.附件]
    published_on = fields["published_at"].astimezone(SHANGHAI).date()
    history = _drop_none({"published_at": fields["published_at"].isoformat(), "validity": str(fields["validity"]),
                          "repeal_date": _day(fields["repeal_date"]), "index_no": fields["index_no"]})
    bulk = _drop_none({
        "external_id": fields["external_id"], "title": fields["title"], "summary": fields["summary"],
        "doc_number": fields["doc_number"],
        "subject_category": str(fields["subject_category"]) if fields["subject_category"] else None,
        "genre": str(fields["genre"]) if fields["genre"] else None,
        "key_areas": [str(k) for k in fields["key_areas"]], "keywords": list(fields["keywords"]),
        "written_date": _day(fields["written_date"]), "effective_date": _day(fields["effective_date"]),
        "body": fields["body"], "interpretation_of": fields["interpretation_of"],
        "review": {"reviewer": reviewer, "reviewed_on": published_on.isoformat(), "conclusion": "proactive",
                   "basis": f"已公开记录迁移（{profile}）"},
        "history": history,
    })
    # The files go to the new record through the attachment upload (importer.py), before it is published.
    return {"organ": fields["organ"], "record": bulk, "attachments": files}
