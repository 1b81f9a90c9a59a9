"""Files a person uploads for a card's file input (Import Survey's survey file, say).

Uploads live under MEDIA_ROOT/uploads/<team id>/, so that a flow can only ever point at its own
team's files; file outputs of runs live under MEDIA_ROOT/runs/<run id>/.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from django.conf import settings

from connectors.specs import file_value

SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(ValueError):
    """An upload that is refused; the message says why."""


def upload_prefix(team_id: int) -> str:
    return f"uploads/{team_id}/"


def file_upload(*, team, upload) -> dict:
    if upload is None:
        raise UploadError("Choose a file to upload.")
    if upload.size > settings.MAX_IMPORT_FILE_SIZE:
        limit = settings.MAX_IMPORT_FILE_SIZE // (1024 * 1024)
        raise UploadError(f"“{upload.name}” is larger than {limit} MB, the most this server accepts.")
    name = SAFE_NAME_RE.sub("_", Path(upload.name or "file").name).strip("._") or "file"
    folder = Path(settings.MEDIA_ROOT) / upload_prefix(team.pk) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name[:120]
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return file_value(path, name=upload.name, content_type=upload.content_type)
