"""Files a flow may use: uploads for a card's file input (Import Survey's survey file, say) and the
files cards of a run write (an export).

Uploads live under MEDIA_ROOT/uploads/<team id>/ and file outputs of runs under
MEDIA_ROOT/runs/<run id>/. Every one is recorded as a StoredFile of its team, and a file value
carries that record's id: a file value is a capability of the team that created it, not a path.
Validation refuses file values that are not the team's, and the engine opens a file for a card
only through `TeamFiles.open`, which checks the record again at run time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from connectors.specs import CardInputError, file_path, file_value

SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")
NOT_THE_TEAMS = "The file '{name}' is not one of this team's files: upload it again, or map a file output of an earlier card."


class UploadError(ValueError):
    """An upload that is refused; the message says why."""


def upload_prefix(team_id: int) -> str:
    return f"uploads/{team_id}/"


def run_prefix(run_id: int) -> str:
    return f"runs/{run_id}/"


def is_file_value(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") == "file"


def _record(value: Any):
    """The StoredFile a file value names by its id, or None (no id, a malformed one, none such)."""
    from designer.models import StoredFile

    if not is_file_value(value):
        return None
    try:
        key = uuid.UUID(str(value.get("id") or ""))
    except ValueError:
        return None
    return StoredFile.objects.filter(key=key).first()


def file_owned(*, team_id: int, value: Any):
    """The team's StoredFile this value names (its id and its path must both match), or None."""
    record = _record(value)
    if record is None or record.team_id != team_id or record.path != str(value.get("path") or ""):
        return None
    return record


def file_register(*, team_id: int, value: Mapping[str, Any], run_id: int | None = None) -> dict[str, Any]:
    """Records a file value's file for the team (once per path) and returns the value with its id."""
    from designer.models import StoredFile

    record, _ = StoredFile.objects.get_or_create(
        path=str(value["path"]),
        defaults={
            "team_id": team_id, "key": uuid.uuid4(), "run_id": run_id, "name": str(value.get("name") or "")[:255],
            "size": int(value.get("size") or 0), "content_type": str(value.get("content_type") or "")[:200],
        },
    )
    if record.team_id != team_id:  # a path is recorded for one team only
        raise CardInputError(NOT_THE_TEAMS.format(name=value.get("name") or "file"))
    return {**value, "id": str(record.key)}


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
    return file_register(team_id=team.pk, value=file_value(path, name=upload.name, content_type=upload.content_type))


class TeamFiles:
    """A run's access to files, built by the engine for each step's RunContext: `open` opens only
    the run's team's files; `keep` records the files a card wrote under the run's folder."""

    def __init__(self, *, team_id: int, run_id: int):
        self.team_id = team_id
        self.run_id = run_id

    def open(self, value: Mapping[str, Any]) -> IO[bytes]:
        if not is_file_value(value) or not value.get("path"):
            raise CardInputError("Expected a file (an upload or a file output of an earlier card).")
        record = file_owned(team_id=self.team_id, value=value)
        if record is None:
            raise CardInputError(NOT_THE_TEAMS.format(name=value.get("name") or "file"))
        return open(file_path({"type": "file", "path": record.path, "name": value.get("name")}), "rb")

    def keep(self, outputs: Any) -> Any:
        """The outputs with every file value the card wrote under this run's folder recorded and
        given its id (in lists and objects too); other values as they are."""
        if is_file_value(outputs):
            path = str(outputs.get("path") or "")
            if path.startswith(run_prefix(self.run_id)) and ".." not in path.split("/"):
                return file_register(team_id=self.team_id, value=outputs, run_id=self.run_id)
            return outputs
        if isinstance(outputs, dict):
            return {key: self.keep(item) for key, item in outputs.items()}
        if isinstance(outputs, list):
            return [self.keep(item) for item in outputs]
        return outputs
