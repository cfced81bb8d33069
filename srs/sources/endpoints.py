"""Sources over HTTP. One path takes pasted text or a URL as JSON, or a file as multipart
form data (`file`, optional `title`), as the contract says."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from srs.accounts.dependencies import CurrentUser
from srs.kit.deps import AppSettings, DbSession, Limiter, RowId
from srs.kit.errors import AppError, invalid
from srs.sources.dependencies import Sources
from srs.sources.models import SourceKind
from srs.sources.schemas import (
    CardPassageOut,
    PassageList,
    SourceIn,
    SourceList,
    SourceOut,
)
from srs.sources.service import Upload, too_large

router = APIRouter(tags=["sources"])
CHUNK = 1 << 20

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SourceIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "PDF, Markdown, plain text, HTML or EPUB",
                        },
                        "title": {"type": "string", "maxLength": 200},
                    },
                }
            },
        },
    }
}


async def _upload(request: Request, settings: AppSettings) -> Upload:
    """Read in an async dependency, so the (sync) handler's database work stays off the loop."""
    max_bytes = settings.source_max_bytes
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=4, max_part_size=max_bytes + 1024)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise invalid("file: a multipart upload needs a `file` part")
        data = bytearray()
        while chunk := await file.read(CHUNK):
            data += chunk
            if len(data) > max_bytes:
                raise too_large(max_bytes)
        title = form.get("title")
        title = title.strip() if isinstance(title, str) and title.strip() else None
        if title is not None:
            try:
                title = SourceIn(text="x", title=title).title
            except ValidationError as error:
                raise invalid(f"title: {error.errors()[0]['msg']}") from None
        if not data:
            raise invalid("file: the file is empty")
        return Upload(
            SourceKind.FILE,
            title=title,
            data=bytes(data),
            filename=file.filename,
            content_type=file.content_type,
        )
    if kind != "application/json":
        raise AppError(
            "Send JSON ({text} or {url}) or a multipart file upload",
            code="unsupported_media_type",
            status_code=415,
        )
    body = await request.body()
    try:
        data = SourceIn.model_validate_json(body)
    except ValidationError as error:
        parts = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()]
        raise invalid("; ".join(parts[:5])) from None
    if data.text is not None:
        encoded = data.text.encode("utf-8")
        if len(encoded) > max_bytes:
            raise too_large(max_bytes)
        return Upload(SourceKind.TEXT, title=data.title, data=encoded)
    return Upload(SourceKind.URL, title=data.title, url=data.url)


SourceUpload = Annotated[Upload, Depends(_upload)]


@router.post("/sources", status_code=202, response_model=SourceOut, openapi_extra=_BODY)
def create_topic_from_source(
    user: CurrentUser,
    upload: SourceUpload,
    db: DbSession,
    settings: AppSettings,
    sources: Sources,
    limiter: Limiter,
) -> SourceOut:
    """A new topic made from a source (named after it): pasted text `{text}`, a web page
    `{url}`, or an uploaded file. The source is read in the background (follow its `status`
    with `GET /sources/{id}`); its first batch of cards starts once it is ready."""
    # A new topic: the same hourly limit as POST /topics.
    limiter.hit("topics", str(user.id), settings.rate_topics_per_hour, 3600)
    source = sources.add(db, user, upload)
    return sources.out(db, [source])[0]


@router.post(
    "/topics/{topic_id}/sources", status_code=202, response_model=SourceOut, openapi_extra=_BODY
)
def add_source(
    topic_id: RowId, user: CurrentUser, upload: SourceUpload, db: DbSession, sources: Sources
) -> SourceOut:
    """Give a topic a source: from then on its batches are written from the source's
    passages, in reading order."""
    source = sources.add(db, user, upload, topic_id)
    return sources.out(db, [source])[0]


@router.get("/topics/{topic_id}/sources", response_model=SourceList)
def list_sources(topic_id: RowId, user: CurrentUser, db: DbSession, sources: Sources) -> SourceList:
    return SourceList(items=sources.out(db, sources.topic_sources(db, user, topic_id)))


@router.get("/sources/{source_id}", response_model=SourceOut)
def get_source(source_id: RowId, user: CurrentUser, db: DbSession, sources: Sources) -> SourceOut:
    return sources.out(db, [sources.get(db, user, source_id)])[0]


@router.delete("/sources/{source_id}", status_code=204)
def delete_source(source_id: RowId, user: CurrentUser, db: DbSession, sources: Sources) -> Response:
    """Delete a source: its text and passages go, its cards stay without their citation, a
    read in progress stops. This period's usage is not refunded."""
    sources.remove(db, user, source_id)
    return Response(status_code=204)


@router.get("/sources/{source_id}/passages", response_model=PassageList)
def list_passages(
    source_id: RowId, user: CurrentUser, db: DbSession, sources: Sources
) -> PassageList:
    """The source's passages in reading order, with whether a batch has covered each."""
    return PassageList(items=sources.passages(db, user, source_id))


@router.get("/cards/{card_id}/passage", response_model=CardPassageOut)
def card_passage(
    card_id: RowId, user: CurrentUser, db: DbSession, sources: Sources
) -> CardPassageOut:
    """The passage a grounded card was written from, with the span it quotes (404 for a
    card not written from a source)."""
    return sources.card_passage(db, user, card_id)
