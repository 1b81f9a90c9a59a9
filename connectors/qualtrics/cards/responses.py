"""Responses: the New Response event, readResponse and Export Responses.

A survey's questions become typed outputs (`q.QID1`, `q.QID1_label`) and its embedded data fields
become text outputs (`ed.<name>`), so later cards can use each answer on its own.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings

from connectors.qualtrics import fields as qf
from connectors.http import ConnectorError
from connectors.qualtrics.cards._base import client_of, qualtrics_card, required_text
from connectors.specs import Card, CardInputError, Choice, Field, choices, file_value

GROUP = "Responses"

# Static outputs -------------------------------------------------------------------------------

METADATA = "Metadata"
RECIPIENT = "Recipient"

RESPONSE_ID = Field("response_id", "Response ID", group=METADATA, help="Unique ID for the new response.")
RECIPIENT_ID = Field(
    "recipient_id", "Recipient ID", group=METADATA, help="Unique ID for the recipient of the new response."
)
RESPONSE_EVENT_CONTEXT = Field(
    "response_event_context",
    "Response Event Context",
    group=METADATA,
    help="How the response came in: the distribution channel, such as anonymous, email or preview.",
)
RESPONSE_SET = Field("response_set", "Response Set", group=METADATA, help="The response set the response belongs to.")
STATUS = Field("status", "Status", group=METADATA, help="Status of response (Eg. Completed…).")
START_DATE = Field("start_date", "Start Date", group=METADATA, help="Date response was created.")
END_DATE = Field(
    "end_date",
    "End Date",
    group=METADATA,
    help="Date response was finished being written (dependent on status of response).",
)
FINISHED = Field("finished", "Finished?", type="boolean", group=METADATA, help="If true, response is finished.")
RECIPIENT_NAME = Field("recipient_name", "Name", group=RECIPIENT, help="Name of recipient.")
RECIPIENT_EXTERNAL_REFERENCE = Field(
    "recipient_external_reference",
    "External Reference",
    group=RECIPIENT,
    help="External website link associated with recipient.",
)
RECIPIENT_EMAIL = Field("recipient_email", "Email Address", group=RECIPIENT, help="Email address of recipient.")
RECIPIENT_IP_ADDRESS = Field(
    "recipient_ip_address",
    "IP Address",
    group=RECIPIENT,
    help="A unique string of numbers separated by periods that identifies each computer using the "
    "Internet Protocol to communicate over a network.",
)
RECIPIENT_OUTPUTS = (RECIPIENT_NAME, RECIPIENT_EXTERNAL_REFERENCE, RECIPIENT_EMAIL, RECIPIENT_IP_ADDRESS)

NEW_RESPONSE_OUTPUTS = (
    RESPONSE_ID,
    RECIPIENT_ID,
    RESPONSE_EVENT_CONTEXT,
    RESPONSE_SET,
    STATUS,
    START_DATE,
    END_DATE,
    FINISHED,
    *RECIPIENT_OUTPUTS,
)
READ_RESPONSE_OUTPUTS = (RESPONSE_SET, STATUS, START_DATE, END_DATE, FINISHED, *RECIPIENT_OUTPUTS)

QUESTIONS = "Questions"
EMBEDDED_DATA = "Embedded data"

# Response `values` keys that are response metadata rather than answers or embedded data
# (qualtrics-api.md §6.1: single-response record and qualtRics' metadata ids).
METADATA_KEYS = frozenset(
    {
        "startDate",
        "endDate",
        "status",
        "ipAddress",
        "progress",
        "duration",
        "finished",
        "recordedDate",
        "_recordId",
        "_lastModifiedDate",
        "locationLatitude",
        "locationLongitude",
        "distributionChannel",
        "userLanguage",
        "recipientEmail",
        "recipientFirstName",
        "recipientLastName",
        "externalDataReference",
        "responseId",
        "recipientId",
        "contactId",
        "responseSet",
    }
)
# `status` codes when a response carries no label for it (qualtrics-api.md §6.1).
STATUS_LABELS = {
    0: "IP Address",
    1: "Survey Preview",
    2: "Survey Test",
    4: "Imported",
    8: "Spam",
    9: "Survey Preview Spam",
    12: "Imported Spam",
    16: "Offline",
    17: "Offline Survey Preview",
    256: "Synthetic",
}
# Qualtrics has one response set per survey since the v3 API; exports name it like this.
DEFAULT_RESPONSE_SET = "Default Response Set"

# What a Net Promoter score means (Qualtrics' NPS question: 0-10, grouped as the export's
# `_NPS_GROUP` column does).
NPS_HELP = (
    "Likelihood to recommend, a whole number from 0 (not at all likely) to 10 (extremely likely): "
    "0-6 is a detractor, 7-8 a passive, 9-10 a promoter."
)
MULTI_SELECTORS = frozenset({"MAVR", "MAHR", "MACOL", "MSB"})
SKIPPED_TYPES = frozenset({"DB", "Timing", "Meta", "Captcha"})
QID_KEY = re.compile(r"^QID\d+")


# Survey questions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    kind: str  # "choice", "multi", "nps", "text", "matrix", "slider", "other"
    choices: tuple[Choice, ...] = ()  # code -> label
    parts: tuple[Choice, ...] = ()  # matrix rows / slider bars: sub key -> label


def _plain(text: Any) -> str:
    """Question text without its HTML: block tags become spaces, inline tags disappear."""
    text = re.sub(r"<\s*/?\s*(?:br|p|div|li|ul|ol|h[1-6]|tr|td|table)\b[^>]*>", " ", str(text or ""), flags=re.I)
    text = re.sub(r"<[^>]*>", "", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def _choice_list(raw: Any, recodes: Mapping[str, Any] | None = None) -> tuple[Choice, ...]:
    if isinstance(raw, list):
        raw = {str(i + 1): c for i, c in enumerate(raw)}
    if not isinstance(raw, Mapping):
        return ()
    out = []
    for choice_id, choice in raw.items():
        choice = choice if isinstance(choice, Mapping) else {"choiceText": choice}
        code = (recodes or {}).get(str(choice_id)) or choice.get("recode") or choice.get("RecodeValue") or choice_id
        label = choice.get("choiceText") or choice.get("description") or choice.get("Display") or code
        out.append(Choice(value=str(code), label=_plain(label)))
    return tuple(out)


def _part_list(raw: Any) -> tuple[Choice, ...]:
    if isinstance(raw, list):
        raw = {str(i + 1): c for i, c in enumerate(raw)}
    if not isinstance(raw, Mapping):
        return ()
    parts = []
    for part_id, part in raw.items():
        part = part if isinstance(part, Mapping) else {"choiceText": part}
        label = part.get("choiceText") or part.get("description") or part.get("Display") or part_id
        parts.append(Choice(value=str(part_id), label=_plain(label)))
    return tuple(parts)


def survey_questions(survey: Mapping[str, Any] | None) -> list[Question]:
    """Questions of a survey, from `GET surveys/{id}` (or a survey-definitions/QSF document)."""
    if not survey:
        return []
    raw = survey.get("questions") or survey.get("Questions") or {}
    if isinstance(raw, list):
        raw = {q.get("questionId") or q.get("QuestionID") or f"QID{i + 1}": q for i, q in enumerate(raw)}
    questions = []
    for qid, q in raw.items():
        if not isinstance(q, Mapping):
            continue
        qtype = q.get("questionType")
        if isinstance(qtype, Mapping):
            type_, selector = qtype.get("type"), qtype.get("selector")
        else:
            type_, selector = q.get("QuestionType") or qtype, q.get("Selector")
        if type_ in SKIPPED_TYPES:
            continue
        text = _plain(q.get("questionText") or q.get("QuestionText") or q.get("questionName") or qid) or qid
        raw_choices = q.get("choices") if "choices" in q else q.get("Choices")
        recodes = q.get("RecodeValues")
        # Net Promoter questions come as MC with the NPS selector, or as their own type (QSF).
        if (type_ == "MC" and selector == "NPS") or type_ == "NPS":
            kind = "nps"
        elif type_ == "MC":
            kind = "multi" if selector in MULTI_SELECTORS else "choice"
        elif type_ == "TE":
            kind = "text"
        elif type_ == "Matrix":
            kind = "matrix"
        elif type_ == "Slider":
            kind = "slider"
        else:
            kind = "other"
        if kind == "matrix":
            rows = q.get("subQuestions") if "subQuestions" in q else q.get("Choices")
            answers = q.get("choices") if "subQuestions" in q else q.get("Answers")
            questions.append(Question(qid, text, kind, _choice_list(answers), _part_list(rows)))
        elif kind == "slider":
            questions.append(Question(qid, text, kind, (), _part_list(raw_choices)))
        else:
            questions.append(Question(qid, text, kind, _choice_list(raw_choices, recodes)))
    return questions


def survey_embedded_data(survey: Mapping[str, Any] | None) -> list[str]:
    if not survey:
        return []
    raw = survey.get("embeddedData") or survey.get("EmbeddedData") or []
    if isinstance(raw, Mapping):
        return [str(name) for name in raw]
    names = []
    for item in raw:
        name = item.get("name") or item.get("Field") if isinstance(item, Mapping) else item
        if name and str(name) not in names:
            names.append(str(name))
    return names


def _codes_help(choice_list: tuple[Choice, ...]) -> str:
    return "Answer codes: " + ", ".join(f"{c.value} = {c.label}" for c in choice_list) if choice_list else ""


def survey_output_fields(survey: Mapping[str, Any] | None) -> tuple[Field, ...]:
    """One output per question (typed), a label output per choice question, one per embedded field."""
    fields: list[Field] = []
    for q in survey_questions(survey):
        key = f"q.{q.qid}"
        if q.kind == "choice":
            fields.append(
                Field(
                    key, q.text, type="number", group=QUESTIONS, help=_codes_help(q.choices), choices=q.choices or None
                )
            )
            fields.append(Field(f"{key}_label", f"{q.text} (label)", group=QUESTIONS, help="The chosen answer's text."))
        elif q.kind == "multi":
            fields.append(
                Field(
                    key,
                    q.text,
                    type="list",
                    group=QUESTIONS,
                    help="Codes of the chosen answers. " + _codes_help(q.choices),
                    choices=q.choices or None,
                )
            )
            fields.append(
                Field(
                    f"{key}_label",
                    f"{q.text} (labels)",
                    group=QUESTIONS,
                    help="The chosen answers' text, separated by commas.",
                )
            )
        elif q.kind == "nps":
            fields.append(Field(key, q.text, type="number", group=QUESTIONS, help=NPS_HELP))
        elif q.kind == "text":
            fields.append(Field(key, q.text, group=QUESTIONS, help="The text the respondent typed."))
        elif q.kind == "matrix":
            for part in q.parts:
                fields.append(
                    Field(
                        f"{key}_{part.value}",
                        f"{q.text} - {part.label}",
                        type="number",
                        group=QUESTIONS,
                        help=_codes_help(q.choices),
                        choices=q.choices or None,
                    )
                )
                fields.append(Field(f"{key}_{part.value}_label", f"{q.text} - {part.label} (label)", group=QUESTIONS))
        elif q.kind == "slider":
            for part in q.parts:
                fields.append(Field(f"{key}_{part.value}", f"{q.text} - {part.label}", type="number", group=QUESTIONS))
        else:
            fields.append(Field(key, q.text, group=QUESTIONS))
    for name in survey_embedded_data(survey):
        fields.append(Field(f"ed.{name}", name, group=EMBEDDED_DATA, help="Embedded data field."))
    return tuple(fields)


def survey_dynamic_outputs(client: Any, options: Mapping[str, Any]) -> tuple[Field, ...]:
    survey_id = str(options.get("survey_id") or "").strip()
    if not survey_id:
        return ()
    return survey_output_fields(client.get_survey(survey_id))


# Response record -> outputs --------------------------------------------------------------------


def _number(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    try:
        number = float(str(value).strip())
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def _label_text(label: Any) -> str | None:
    if label is None:
        return None
    if isinstance(label, (list, tuple)):
        return ", ".join(str(x) for x in label)
    return str(label)


def _choice_label(code: Any, choice_list: tuple[Choice, ...]) -> str | None:
    if code is None:
        return None
    codes = code if isinstance(code, (list, tuple)) else [code]
    by_code = {c.value: c.label for c in choice_list}
    found = [by_code.get(str(_number(c))) or by_code.get(str(c)) for c in codes]
    return ", ".join(f for f in found if f) or None


def _as_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().casefold() in ("1", "true", "yes")
    return bool(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(_number(value))


def _metadata_outputs(result: Mapping[str, Any]) -> dict[str, Any]:
    values = result.get("values") or {}
    labels = result.get("labels") or {}
    status = labels.get("status")
    if status is None and values.get("status") is not None:
        code = _number(values.get("status"))
        status = STATUS_LABELS.get(code, str(code)) if isinstance(code, int) else str(code)
    name = " ".join(
        str(p).strip()
        for p in (values.get("recipientFirstName"), values.get("recipientLastName"))
        if p and str(p).strip()
    )
    return {
        "response_id": result.get("responseId") or values.get("_recordId") or values.get("responseId"),
        "recipient_id": values.get("recipientId") or values.get("contactId"),
        "response_event_context": values.get("distributionChannel"),
        "response_set": values.get("responseSet") or DEFAULT_RESPONSE_SET,
        "status": status,
        "start_date": values.get("startDate"),
        "end_date": values.get("endDate"),
        "finished": _as_bool(values.get("finished")),
        "recipient_name": name or None,
        "recipient_external_reference": values.get("externalDataReference"),
        "recipient_email": values.get("recipientEmail"),
        "recipient_ip_address": values.get("ipAddress"),
    }


def survey_shape(survey: Mapping[str, Any]) -> tuple[list[Question], list[str]]:
    """What the outputs of a survey's responses are read by: its questions and embedded data names.
    Parsing it (the questions' text without HTML) costs more than reading a response, so a kept
    survey keeps its shape too."""
    return survey_questions(survey), survey_embedded_data(survey)


def _answer_outputs(values: Mapping[str, Any], labels: Mapping[str, Any],
                    shape: tuple[list[Question], list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    questions, embedded = shape
    for q in questions:
        key = f"q.{q.qid}"
        if q.kind == "choice":
            code = values.get(q.qid)
            out[key] = _number(code)
            out[f"{key}_label"] = _label_text(labels.get(q.qid)) or _choice_label(code, q.choices)
        elif q.kind == "multi":
            codes = values.get(q.qid)
            if codes is not None and not isinstance(codes, (list, tuple)):
                codes = [codes]
            out[key] = [_number(c) for c in codes] if codes is not None else None
            out[f"{key}_label"] = _label_text(labels.get(q.qid)) or _choice_label(codes, q.choices)
        elif q.kind == "nps":
            out[key] = _number(values.get(q.qid))
        elif q.kind == "text":
            out[key] = _text(values.get(f"{q.qid}_TEXT", values.get(q.qid)))
        elif q.kind == "matrix":
            for part in q.parts:
                sub = f"{q.qid}_{part.value}"
                out[f"{key}_{part.value}"] = _number(values.get(sub))
                out[f"{key}_{part.value}_label"] = _label_text(labels.get(sub)) or _choice_label(
                    values.get(sub), q.choices
                )
        elif q.kind == "slider":
            for part in q.parts:
                out[f"{key}_{part.value}"] = _number(values.get(f"{q.qid}_{part.value}"))
        else:
            value = values.get(q.qid, values.get(f"{q.qid}_TEXT"))
            out[key] = value if isinstance(value, (dict, list)) else _text(value)
    for name in embedded:
        out[f"ed.{name}"] = _text(values.get(name))
    return out


def _answer_outputs_without_survey(values: Mapping[str, Any], labels: Mapping[str, Any]) -> dict[str, Any]:
    """Best effort when the survey definition is not at hand: read the keys the record has."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in METADATA_KEYS or key.startswith("_"):
            continue
        if QID_KEY.match(key):
            if key.endswith(("_DO", "_NPS_GROUP")):
                continue
            if key.endswith("_TEXT"):
                base = key[: -len("_TEXT")]
                if base not in values:  # text entry, not the "other, please specify" box of a choice
                    out[f"q.{base}"] = _text(value)
                continue
            out[f"q.{key}"] = [_number(v) for v in value] if isinstance(value, list) else _number(value)
            if key in labels:
                out[f"q.{key}_label"] = _label_text(labels[key])
        else:
            out[f"ed.{key}"] = _text(value)
    return out


def outputs_from_response(response: Mapping[str, Any], survey: Mapping[str, Any] | None = None, *,
                          shape: tuple[list[Question], list[str]] | None = None) -> dict[str, Any]:
    """Outputs of New Response (and readResponse) from one `GET surveys/{id}/responses/{rid}` result.

    `survey` is the `GET surveys/{id}` result; with it every question of the survey has an output
    (None when unanswered), typed as the catalog says. Without it the answers present in the
    record are used as they are. `shape` is the survey's `survey_shape`, when it is at hand.
    """
    if not isinstance(response, Mapping):
        raise CardInputError("Expected a Qualtrics response record.")
    values = response.get("values") or {}
    labels = response.get("labels") or {}
    outputs = _metadata_outputs(response)
    if survey:
        outputs.update(_answer_outputs(values, labels, shape if shape is not None else survey_shape(survey)))
    else:
        outputs.update(_answer_outputs_without_survey(values, labels))
    return outputs


def _fetch_response(client: Any, survey_id: str, response_id: str, *, retry_not_found: bool) -> dict[str, Any]:
    from connectors.qualtrics.errors import NotFoundError

    # Right after a completedResponse notification the response can briefly answer 404
    # (qualtrics-api.md §6.1), so the event waits a little before giving up.
    delays = list(getattr(settings, "QUALTRICS_NEW_RESPONSE_RETRY_DELAYS", (1, 2, 4))) if retry_not_found else []
    while True:
        try:
            return client.get_response(survey_id, response_id)
        except NotFoundError:
            if not delays:
                raise
            time.sleep(delays.pop(0))


# A survey's definition (questions and their types, for the outputs) is read and parsed once per
# client and survey every few seconds instead of once per run: at many runs a second it was a
# third of the calls to Qualtrics. Clients are kept per connection between runs
# (designer/engine.py), so the cache is too; a survey edited meanwhile shows in runs after that.
SURVEY_CACHE_SECONDS = 10.0
SURVEYS_KEPT = 64


def _survey_definition(client: Any, survey_id: str, *, cached: bool) -> tuple[Any, Any]:
    """(the survey, its `survey_shape` or None), kept per client and survey when `cached`."""
    if not cached:
        return client.get_survey(survey_id), None
    kept = client.__dict__.setdefault("_survey_definitions", {})
    now = time.monotonic()
    found = kept.get(survey_id)
    if found is not None and now - found[0] < SURVEY_CACHE_SECONDS:
        return found[1], found[2]
    try:
        survey = client.get_survey(survey_id)
    except ConnectorError:
        return None, None  # question labels are a nicety; the answers are in the record
    shape = survey_shape(survey) if survey else None
    kept[survey_id] = (now, survey, shape)
    while len(kept) > SURVEYS_KEPT:
        kept.pop(next(iter(kept)))
    return survey, shape


def _response_outputs(ctx, options, inputs, *, declared: tuple[Field, ...], retry_not_found: bool) -> dict[str, Any]:
    client = client_of(ctx)
    survey_id = required_text(options, "survey_id", "Survey")
    response_id = required_text(inputs, "response_id", "Response ID")
    response = _fetch_response(client, survey_id, response_id, retry_not_found=retry_not_found)
    survey, shape = _survey_definition(client, survey_id, cached=retry_not_found)
    outputs = outputs_from_response(response, survey, shape=shape)
    keep = {f.key for f in declared}
    return {k: v for k, v in outputs.items() if k in keep or k.startswith(("q.", "ed."))}


SURVEY_OUTPUTS_HELP = (
    "Once a survey is chosen, the card also outputs each question of that survey: <code>q.QID1</code> (a number "
    "for choice and NPS questions, text for text entry), <code>q.QID1_label</code> (the chosen answer's text) and "
    "each embedded data field as <code>ed.&lt;name&gt;</code>."
)


def run_new_response(ctx, options, inputs):
    """The event's outputs for the response named by `inputs["response_id"]` (from the notification)."""
    return _response_outputs(ctx, options, inputs, declared=NEW_RESPONSE_OUTPUTS, retry_not_found=True)


def run_read_response(ctx, options, inputs):
    return _response_outputs(ctx, options, inputs, declared=READ_RESPONSE_OUTPUTS, retry_not_found=False)


# Export --------------------------------------------------------------------------------------

EXPORT_FORMATS = choices(("csv", "CSV"), ("json", "JSON"), ("ndjson", "NDJSON (one response per line)"))
EXPORT_CONTENT_TYPES = {"csv": "text/csv", "json": "application/json", "ndjson": "application/x-ndjson"}


def _export_datetime(value: Any, label: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise CardInputError(f"{label} must be a date like 2026-01-31 (or a date and time).") from None
    if parsed.tzinfo is not None:
        from datetime import UTC

        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    # Qualtrics wants ISO-8601 in UTC (qualtrics-api.md §6.2); the end date is exclusive.
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def run_export_responses(ctx, options, inputs):
    client = client_of(ctx)
    survey_id = required_text(options, "survey_id", "Survey")
    fmt = str(options.get("format") or "csv").strip().lower()
    if fmt not in EXPORT_CONTENT_TYPES:
        raise CardInputError(f"Format must be one of {', '.join(EXPORT_CONTENT_TYPES)}, not '{fmt}'.")
    start = _export_datetime(inputs.get("start_date"), "Start Date")
    end = _export_datetime(inputs.get("end_date"), "End Date")
    if start and end and end <= start:
        raise CardInputError("End Date must be after Start Date.")
    if ctx.files_dir is None:
        raise CardInputError("Export Responses needs a place to write the file; run it inside a flow.")
    ctx.files_dir.mkdir(parents=True, exist_ok=True)
    # The client streams the download to disk and unzips it member by member, so memory stays
    # bounded whatever the export's size; it reports 0-100 as it goes.
    result = client.export_responses(
        survey_id, dest_dir=ctx.files_dir, format=fmt, start_date=start, end_date=end, on_progress=ctx.on_progress
    )
    file_format = getattr(result, "file_format", None) or fmt
    return {
        "file": file_value(result.path, content_type=EXPORT_CONTENT_TYPES.get(file_format)),
        "format": file_format,
    }


# Cards ---------------------------------------------------------------------------------------

NEW_RESPONSE_SAMPLE = {
    "response_id": "R_1a2b3c4d5e6f7g8",
    "recipient_id": "CID_0a1b2c3d4e5f6g7",
    "response_event_context": "email",
    "response_set": DEFAULT_RESPONSE_SET,
    "status": "IP Address",
    "start_date": "2026-11-30T09:12:03Z",
    "end_date": "2026-11-30T09:15:41Z",
    "finished": True,
    "recipient_name": "Ada Lovelace",
    "recipient_external_reference": "crm-1815",
    "recipient_email": "ada@example.com",
    "recipient_ip_address": "192.0.2.10",
}

NEW_RESPONSE: Card = qualtrics_card(
    name="New Response",
    description=(
        "Begin a Flow whenever there is a new response to a survey in Qualtrics. Additional fields may be "
        "available depending on the account and options you choose."
    ),
    group=GROUP,
    kind="event",
    options=(qf.SURVEY,),
    outputs=NEW_RESPONSE_OUTPUTS,
    run=run_new_response,
    dynamic_outputs=survey_dynamic_outputs,
    dynamic_outputs_help=SURVEY_OUTPUTS_HELP,
    sample_outputs=NEW_RESPONSE_SAMPLE,
)
READ_RESPONSE: Card = qualtrics_card(
    key="qualtrics.read_response",
    name="readResponse",
    safe=True,
    description="Reads responses stored in Qualtrics.",
    group=GROUP,
    options=(qf.SURVEY,),
    inputs=(
        Field("response_id", "Response ID", required=True, group="Response", help="Identification code of response."),
    ),
    outputs=READ_RESPONSE_OUTPUTS,
    run=run_read_response,
    dynamic_outputs=survey_dynamic_outputs,
    dynamic_outputs_help=SURVEY_OUTPUTS_HELP,
    sample_outputs={k: v for k, v in NEW_RESPONSE_SAMPLE.items() if k in {f.key for f in READ_RESPONSE_OUTPUTS}},
)
EXPORT_RESPONSES: Card = qualtrics_card(
    name="Export Responses",
    safe=True,
    description="Export Responses.",
    group=GROUP,
    options=(
        qf.SURVEY,
        Field(
            "format",
            "Format",
            required=True,
            default="csv",
            choices=EXPORT_FORMATS,
            help="The file format of the export.",
        ),
    ),
    inputs=(
        Field("start_date", "Start Date", type="date", help="Only responses recorded on or after this date (UTC)."),
        Field("end_date", "End Date", type="date", help="Only responses recorded before this date (UTC)."),
    ),
    outputs=(
        Field("file", "File", type="file", help="The exported responses."),
        Field("format", "Format", help="The file's format: csv, json or ndjson."),
    ),
    run=run_export_responses,
)
