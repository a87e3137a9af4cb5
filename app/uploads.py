"""Multipart uploads read into memory, never spooled to disk.

Starlette's form parser spools files over 1 MB to a temporary file; hashwall must never
write an upload to disk, so it streams the body through python-multipart itself, keeps
each part in memory, and stops reading as soon as a limit is crossed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from app.config import Settings
from app.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

#: Form fields other than files are short text (an external id, a case reference).
MAX_FIELD_BYTES = 1024


@dataclass(slots=True)
class UploadedFile:
    """One `file` part: its client-side name and bytes."""

    filename: str | None
    data: bytes


@dataclass(slots=True)
class Upload:
    """The files and text fields of one multipart request."""

    files: list[UploadedFile] = field(default_factory=list)
    #: The last value of each text field.
    fields: dict[str, str] = field(default_factory=dict)
    #: Every value of each text field, in order (`content_id`, repeated one per file).
    repeated: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    name: str = ""
    filename: str | None = None


async def read_media(request: Request, settings: Settings) -> Upload:
    """The `file` parts of a media request, within the configured limits."""
    return await read_upload(
        request.headers.get("content-type"),
        request.stream(),
        file_field="file",
        max_file_bytes=settings.max_upload_bytes,
        max_files=settings.max_files_per_request,
    )


async def read_upload(
    content_type: str | None,
    body: AsyncIterator[bytes],
    *,
    file_field: str,
    max_file_bytes: int,
    max_files: int,
) -> Upload:
    """Parse a multipart/form-data body held in memory, enforcing the limits."""
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        raise UnsupportedMediaType(
            f"expected multipart/form-data with one or more '{file_field}' parts, "
            f"got {kind.decode('latin-1') or 'no content type'}"
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidInput("multipart body has no boundary")

    upload = Upload()
    part = _Part()
    header_field: list[bytes] = []
    header_value: list[bytes] = []

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.append(data[start:end])

    def on_header_end() -> None:
        part.headers[b"".join(header_field).lower()] = b"".join(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = disposition.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = disposition.get(b"filename")
        part.filename = raw_filename.decode("utf-8", "replace") if raw_filename else None
        if part.filename is not None and part.name != file_field:
            raise InvalidInput(
                f"unexpected file in field {part.name!r}; no '{file_field}' part: "
                f"send files in the '{file_field}' field"
            )
        if part.name == file_field and len(upload.files) >= max_files:
            raise PayloadTooLarge(f"at most {max_files} files per request")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part.size += end - start
        limit = max_file_bytes if part.name == file_field else MAX_FIELD_BYTES
        if part.size > limit:
            what = f"file {part.filename!r}" if part.name == file_field else f"field {part.name!r}"
            raise PayloadTooLarge(f"{what} is over the limit of {limit} bytes")
        part.chunks.append(data[start:end])

    def on_part_end() -> None:
        data = b"".join(part.chunks)
        if part.name == file_field:
            upload.files.append(UploadedFile(part.filename, data))
        elif part.name:
            value = data.decode("utf-8", "replace")
            upload.fields[part.name] = value
            upload.repeated.setdefault(part.name, []).append(value)

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except (InvalidInput, PayloadTooLarge):
        raise
    except Exception as error:  # python-multipart raises its own error types
        raise InvalidInput(f"malformed multipart body: {error}") from None
    if not upload.files:
        raise InvalidInput(f"no '{file_field}' part in the multipart body")
    return upload
