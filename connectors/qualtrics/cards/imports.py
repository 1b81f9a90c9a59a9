"""Import Survey from a .qsf, .txt or .docx file."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from django.conf import settings

from connectors.qualtrics.cards._base import client_of, qualtrics_card, required_text
from connectors.specs import CardInputError, Field

GROUP = "Surveys"

# The file part's MIME type tells Qualtrics the format (qualtrics-api.md §5.5).
IMPORT_TYPES = {
    "qsf": "application/vnd.qualtrics.survey.qsf",
    "txt": "application/vnd.qualtrics.survey.txt",
    "docx": "application/vnd.qualtrics.survey.doc",
}


def _size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} KB"


def _check_content(extension: str, head: bytes, name: str) -> None:
    if extension == "docx" and not head.startswith(b"PK\x03\x04"):
        raise CardInputError(f"'{name}' is not a Word (.docx) document.")
    if extension == "qsf" and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        raise CardInputError(f"'{name}' is not a Qualtrics survey file (.qsf is JSON).")
    if extension == "txt" and b"\x00" in head:
        raise CardInputError(f"'{name}' is not a text file.")


def run_import_survey(ctx, options, inputs):
    name = required_text(inputs, "survey_name", "Survey Name")
    value = inputs.get("file")
    if not value:
        raise CardInputError("File is required: upload a survey file or map a file output.")
    if not isinstance(value, dict) or value.get("type") != "file":
        raise CardInputError("File must be a file: upload one or map a file output of an earlier card.")
    filename = str(value.get("name") or PurePosixPath(str(value.get("path") or "")).name)
    extension = PurePosixPath(filename).suffix.lower().lstrip(".")
    if extension not in IMPORT_TYPES:
        raise CardInputError(f"Import Survey takes a .qsf, .txt or .docx file, not '{filename}'.")
    limit = settings.MAX_IMPORT_FILE_SIZE
    client = client_of(ctx)
    with ctx.open_file(value) as fileobj:
        size = os.fstat(fileobj.fileno()).st_size
        if size > limit:
            raise CardInputError(
                f"'{filename}' is {_size_text(size)}; Qualtrics imports survey files of at most {_size_text(limit)}."
            )
        if size == 0:
            raise CardInputError(f"'{filename}' is empty.")
        _check_content(extension, fileobj.read(4096), filename)
        fileobj.seek(0)
        survey_id = client.import_survey(
            name=name, fileobj=fileobj, filename=filename, content_type=IMPORT_TYPES[extension]
        )
    return {"survey_id": survey_id}


IMPORT_SURVEY = qualtrics_card(
    name="Import Survey",
    changes="imports the file as a new survey in Qualtrics",
    description="Import a survey from a file",
    group=GROUP,
    inputs=(
        Field("survey_name", "Survey Name", required=True, help="The name the new survey gets."),
        Field(
            "file",
            "File",
            type="file",
            required=True,
            help="A .qsf, .txt or .docx survey file of at most 5 MB: an upload, or a file output of an earlier card.",
        ),
    ),
    outputs=(Field("survey_id", "Survey ID", help="The new survey's ID (SV_...)."),),
    run=run_import_survey,
)
