"""Attachments (附件): upload by the owning organ's staff (and by the document system to the drafts it imported),
download by whoever may see them right now."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Header, Response, UploadFile, status
from fastapi.responses import FileResponse

from catalog_service.deps import IfMatch, SettingsDep, StaffDep
from catalog_service.domain import attachments as domain
from catalog_service.domain import documents as docs
from catalog_service.domain.blobs import make_blob_store
from catalog_service.errors import AttachmentTooLarge
from catalog_service.schemas import AttachmentStaffRead, RecordAttachments
from services.auth import PrincipalDep
from services.concurrency import ETAG_HEADER, etag
from services.db import SessionDep
from services.errors import problem_responses

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX, tags=["attachments"])
ALLOWED = ", ".join(sorted(domain.ALLOWED_TYPES))


def _content_disposition(filename: str) -> str:
    # RFC 6266 / RFC 5987: an ASCII fallback for old clients, the real (Chinese) name in filename*.
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.post("/documents/{document_id}/attachments", summary="Attach a file (上传附件)",
             status_code=status.HTTP_201_CREATED, response_model=AttachmentStaffRead,
             description=f"Multipart upload by the owning organ's drafter, division head or unit head while the "
                         f"record is in drafting or review (the organ's document system, integration role: to the "
                         f"drafts it imported itself), with If-Match (the response's ETag is the record's new "
                         f"version). Types: {ALLOWED}; the content must match the declared type (415 for a type "
                         f"not allowed, 422 for content that does not match it). Larger than the limit: 413. "
                         f"`withheld` (不予公开的附件) is never served to the public.",
             responses=problem_responses(401, 403, 404, 409, 412, 413, 415, 422, 428))
async def create_attachment(
    document_id: str, session: SessionDep, principal: StaffDep, settings: SettingsDep, response: Response,
    file: Annotated[UploadFile, File(description="The file; its part's Content-Type is the declared type")],
    withheld: Annotated[bool, Form(description="区分处理: this attachment is withheld from the public")] = False,
    if_match: IfMatch = None,
) -> AttachmentStaffRead:
    if file.size is not None and file.size > settings.max_attachment_bytes:
        raise AttachmentTooLarge(f"An attachment may be at most {settings.max_attachment_bytes} bytes.")
    doc = await domain.load_for_attachments(session, principal, document_id, for_update=True)
    attachment = await domain.add_attachment(
        session, principal, doc, source=file.file, filename=file.filename, content_type=file.content_type,
        withheld=withheld, if_match=if_match,
        store=make_blob_store(settings.attachment_store, settings.attachment_dir),
        max_bytes=settings.max_attachment_bytes)
    response.headers["ETag"] = etag(doc.version)
    response.headers["Location"] = f"{PREFIX}/documents/{doc.id}/attachments/{attachment.id}"
    return AttachmentStaffRead.model_validate(attachment)


@router.get("/documents/{document_id}/attachments", summary="A record's attachments (附件清单)",
            response_model=RecordAttachments,
            description="For those who may attach files to the record: the owning organ's catalogue staff, and the "
                        "document system (integration role) that imported it — which reads here what it has already "
                        "attached (an import run again uploads no file twice) and the version to send as If-Match. "
                        "Anyone else: 404, as for a record that does not exist.",
            responses={**problem_responses(401, 403, 404),
                       200: {"description": "The attachments; ETag is the record's version", "headers": ETAG_HEADER}})
async def list_attachments(document_id: str, session: SessionDep, principal: StaffDep,
                           response: Response) -> RecordAttachments:
    doc = await domain.load_for_attachments(session, principal, document_id)
    attachments = await domain.list_attachments(session, principal, doc)
    response.headers["ETag"] = etag(doc.version)
    return RecordAttachments(document_id=doc.id, status=doc.status,  # type: ignore[arg-type]
                             attachments=[AttachmentStaffRead.model_validate(a) for a in attachments])


@router.get("/documents/{document_id}/attachments/{attachment_id}", summary="Download an attachment (下载附件)",
            response_class=FileResponse,
            description="Public while the record is published and the attachment is not withheld; the owning "
                        "organ's staff always. Otherwise 404, the same as for an id that does not exist. "
                        "ETag is the file's SHA-256.",
            responses={200: {"description": "The file", "content": {"application/octet-stream": {}}},
                       304: {"description": "Not modified"}, **problem_responses(404)})
async def get_attachment(document_id: str, attachment_id: str, session: SessionDep, principal: PrincipalDep,
                         settings: SettingsDep, if_none_match: Annotated[str | None, Header()] = None) -> Response:
    attachment, content, public = await domain.open_attachment(
        session, principal, document_id, attachment_id,
        make_blob_store(settings.attachment_store, settings.attachment_dir))
    headers = {
        "ETag": f'"{attachment.sha256}"',
        # Public copies must be revalidated (a withdrawal ends them at the next request); staff copies never kept.
        "Cache-Control": "no-cache" if public else "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if if_none_match and f'"{attachment.sha256}"' in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = _content_disposition(attachment.filename)
    if content.path is not None:
        return FileResponse(content.path, media_type=attachment.content_type, headers=headers)
    return Response(content.data, media_type=attachment.content_type, headers=headers)


@router.delete("/documents/{document_id}/attachments/{attachment_id}", summary="Remove an attachment from a draft",
               status_code=status.HTTP_204_NO_CONTENT,
               responses={**problem_responses(401, 403, 404, 409, 412, 428),
                          204: {"description": "Removed; ETag is the record's new version", "headers": ETAG_HEADER}})
async def delete_attachment(document_id: str, attachment_id: str, session: SessionDep, principal: StaffDep,
                            if_match: IfMatch = None) -> Response:
    doc = await docs.load_document(session, principal, document_id, for_update=True)
    await domain.remove_attachment(session, principal, doc, attachment_id, if_match)
    return Response(status_code=204, headers={"ETag": etag(doc.version)})
