"""Survey questions, single responses, QSF import and export files as Qualtrics shapes them.

Shapes follow docs/qualtrics-api.md: the legacy `GET surveys/{id}` question map (§5.2), the
single-response record with `values`/`labels`/`displayedFields`/`displayedValues` (§6.1), and the
export file formats (§6.2).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime, timedelta
from typing import Any

from connectors.qualtrics.sandbox.state import Response, Survey, iso, parse_iso

STATUS_LABELS = {0: "IP Address", 1: "Survey Preview", 2: "Survey Test", 4: "Imported", 16: "Offline", 256: "Synthetic"}
NPS_GROUPS = {1: "Detractor", 2: "Passive", 3: "Promoter"}

# Metadata keys of a response's `values`, in Qualtrics' order (§6.1, [H]).
METADATA_KEYS = (
    "startDate",
    "endDate",
    "status",
    "ipAddress",
    "progress",
    "duration",
    "finished",
    "recordedDate",
    "_recordId",
    "locationLatitude",
    "locationLongitude",
    "distributionChannel",
    "userLanguage",
    "recipientEmail",
    "recipientFirstName",
    "recipientLastName",
    "externalDataReference",
)

# (export column, description, import id) for the metadata columns of a CSV export.
EXPORT_METADATA = (
    ("StartDate", "Start Date", "startDate"),
    ("EndDate", "End Date", "endDate"),
    ("Status", "Response Type", "status"),
    ("IPAddress", "IP Address", "ipAddress"),
    ("Progress", "Progress", "progress"),
    ("Duration (in seconds)", "Duration (in seconds)", "duration"),
    ("Finished", "Finished", "finished"),
    ("RecordedDate", "Recorded Date", "recordedDate"),
    ("ResponseId", "Response ID", "_recordId"),
    ("RecipientLastName", "Recipient Last Name", "recipientLastName"),
    ("RecipientFirstName", "Recipient First Name", "recipientFirstName"),
    ("RecipientEmail", "Recipient Email", "recipientEmail"),
    ("ExternalReference", "External Data Reference", "externalDataReference"),
    ("LocationLatitude", "Location Latitude", "locationLatitude"),
    ("LocationLongitude", "Location Longitude", "locationLongitude"),
    ("DistributionChannel", "Distribution Channel", "distributionChannel"),
    ("UserLanguage", "User Language", "userLanguage"),
)


class SurveyDataError(ValueError):
    """Bad input for a survey or a response; the API answers it with 400."""


# Questions ------------------------------------------------------------------------------------


def _choice(code: str, text: str, recode: str | None = None) -> dict[str, Any]:
    return {
        "recode": recode or code,
        "description": text,
        "choiceText": text,
        "imageDescription": None,
        "variableName": None,
        "analyze": True,
    }


def multiple_choice(name: str, text: str, choices: list[str], *, multiple: bool = False) -> dict[str, Any]:
    return {
        "questionType": {"type": "MC", "selector": "MAVR" if multiple else "SAVR", "subSelector": "TX"},
        "questionText": text,
        "questionLabel": None,
        "questionName": name,
        "validation": {"doesForceResponse": False},
        "choices": {str(i): _choice(str(i), label) for i, label in enumerate(choices, start=1)},
    }


def text_entry(name: str, text: str) -> dict[str, Any]:
    return {
        "questionType": {"type": "TE", "selector": "SL", "subSelector": None},
        "questionText": text,
        "questionLabel": None,
        "questionName": name,
        "validation": {"doesForceResponse": False},
    }


def net_promoter(name: str, text: str) -> dict[str, Any]:
    return {
        "questionType": {"type": "MC", "selector": "NPS", "subSelector": None},
        "questionText": text,
        "questionLabel": None,
        "questionName": name,
        "validation": {"doesForceResponse": False},
        "choices": {str(i): _choice(str(i), str(i)) for i in range(11)},
    }


def question_kind(question: dict[str, Any]) -> str:
    """How the sandbox records a question's answer: `single`, `multi`, `nps` or `text`."""
    return _kind(question)


def _kind(question: dict[str, Any]) -> str:
    qtype = question["questionType"]
    if qtype.get("selector") == "NPS":
        return "nps"
    if qtype.get("type") == "MC":
        return "multi" if qtype.get("selector") in ("MAVR", "MAHR", "MACOL", "MSB") else "single"
    return "text"


def question_keys(qid: str, question: dict[str, Any]) -> list[str]:
    """The `values` keys a question fills: QID1, QID2_TEXT, QID3 + QID3_NPS_GROUP (§6.1)."""
    kind = _kind(question)
    if kind == "text":
        return [f"{qid}_TEXT"]
    if kind == "nps":
        return [qid, f"{qid}_NPS_GROUP"]
    return [qid]


# Responses ------------------------------------------------------------------------------------


def _code(question: dict[str, Any], qid: str, raw: Any) -> int:
    """A choice's recode value as the number Qualtrics stores in `values`."""
    by_recode = {str(c["recode"]): c for c in question.get("choices", {}).values()}
    text = str(raw).strip()
    if text not in by_recode:
        valid = ", ".join(sorted(by_recode, key=_num))
        raise SurveyDataError(f"{raw!r} is not a choice of {qid}; valid codes are {valid}.")
    return int(text) if text.lstrip("-").isdigit() else text  # type: ignore[return-value]


def _num(text: str) -> tuple[int, str]:
    return (int(text), "") if text.lstrip("-").isdigit() else (0, text)


def _description(question: dict[str, Any], code: Any) -> str:
    for choice in question.get("choices", {}).values():
        if str(choice["recode"]) == str(code):
            return choice["description"]
    return str(code)


def build_response(
    survey: Survey, given: dict[str, Any], *, response_id: str, recorded_at: datetime, seq: int
) -> Response:
    """A response record from the `values` a caller sent, with Qualtrics' metadata filled in."""
    if not isinstance(given, dict):
        raise SurveyDataError("values must be an object.")
    answers: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    displayed_values: dict[str, list[Any]] = {}
    extra: dict[str, Any] = {}
    meta_given = {k: v for k, v in given.items() if k in METADATA_KEYS}

    for key, raw in given.items():
        if key in METADATA_KEYS:
            continue
        match = re.fullmatch(r"(QID\d+)(?:_(TEXT|NPS_GROUP))?", key)
        if not match:
            if key.startswith("QID"):
                raise SurveyDataError(f"{key} is not a question of survey {survey.survey_id}.")
            extra[key] = raw if isinstance(raw, str) else json.dumps(raw) if raw is not None else ""
            continue
        qid, suffix = match.groups()
        question = survey.questions.get(qid)
        if question is None:
            raise SurveyDataError(f"{qid} is not a question of survey {survey.survey_id}.")
        kind = _kind(question)
        if kind == "text":
            answers[f"{qid}_TEXT"] = "" if raw is None else str(raw)
        elif suffix == "NPS_GROUP":
            continue  # derived from the score below
        elif kind == "multi":
            codes = raw if isinstance(raw, list) else [raw]
            answers[qid] = [_code(question, qid, c) for c in codes]
            labels[qid] = [_description(question, c) for c in answers[qid]]
        else:
            code = _code(question, qid, raw)
            answers[qid] = code
            labels[qid] = _description(question, code)
            if kind == "nps":
                group = 1 if code <= 6 else 2 if code <= 8 else 3
                answers[f"{qid}_NPS_GROUP"] = group
                labels[f"{qid}_NPS_GROUP"] = NPS_GROUPS[group]

    duration = int(meta_given.get("duration", 30 + seq % 90))
    status = int(meta_given.get("status", 0))
    finished = int(meta_given.get("finished", 1))
    end = parse_iso(meta_given["endDate"]) if meta_given.get("endDate") else recorded_at
    start = parse_iso(meta_given["startDate"]) if meta_given.get("startDate") else end - timedelta(seconds=duration)
    values: dict[str, Any] = {
        "startDate": iso(start),
        "endDate": iso(end),
        "status": status,
        "ipAddress": str(meta_given.get("ipAddress", f"203.0.113.{seq % 250 + 1}")),
        "progress": int(meta_given.get("progress", 100)),
        "duration": duration,
        "finished": finished,
        "recordedDate": iso(recorded_at, millis=True),
        "_recordId": response_id,
        "locationLatitude": str(meta_given.get("locationLatitude", "45.5017")),
        "locationLongitude": str(meta_given.get("locationLongitude", "-73.5673")),
        "distributionChannel": str(meta_given.get("distributionChannel", "anonymous")),
        "userLanguage": str(meta_given.get("userLanguage", "EN")),
        "recipientEmail": str(meta_given.get("recipientEmail", "")),
        "recipientFirstName": str(meta_given.get("recipientFirstName", "")),
        "recipientLastName": str(meta_given.get("recipientLastName", "")),
        "externalDataReference": str(meta_given.get("externalDataReference", "")),
    }
    values.update(answers)
    values.update(extra)
    labels = {"status": STATUS_LABELS.get(status, str(status)), "finished": "True" if finished else "False", **labels}

    displayed_fields: list[str] = []
    for qid, question in survey.questions.items():
        displayed_fields.extend(question_keys(qid, question))
        if _kind(question) != "text":
            displayed_values[qid] = [_num_or_text(c["recode"]) for c in question.get("choices", {}).values()]
    return Response(
        response_id=response_id,
        values=values,
        labels=labels,
        displayed_fields=displayed_fields,
        displayed_values=displayed_values,
        recorded_at=recorded_at,
        seq=seq,
    )


def _num_or_text(value: Any) -> Any:
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


# QSF / TXT import --------------------------------------------------------------------------------


def parse_qsf(data: bytes) -> tuple[str | None, dict[str, dict[str, Any]], list[str]]:
    """(survey name, questions, embedded data fields) from a QSF document.

    QSF keeps questions as `SurveyElements` of type `SQ` with a `Payload` (QuestionText,
    QuestionType, Selector, Choices, RecodeValues, DataExportTag) and embedded data inside the
    survey flow (`FL`) element.
    """
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SurveyDataError("The file is not a valid QSF document (it must be JSON).") from exc
    if not isinstance(document, dict) or not isinstance(document.get("SurveyElements"), list):
        raise SurveyDataError("The file is not a valid QSF document: SurveyElements is missing.")
    name = (document.get("SurveyEntry") or {}).get("SurveyName")
    questions: dict[str, dict[str, Any]] = {}
    embedded: list[str] = []
    for element in document["SurveyElements"]:
        if not isinstance(element, dict):
            continue
        payload = element.get("Payload")
        if element.get("Element") == "SQ" and isinstance(payload, dict):
            qid = str(payload.get("QuestionID") or element.get("PrimaryAttribute") or f"QID{len(questions) + 1}")
            questions[qid] = _qsf_question(payload, len(questions) + 1)
        elif element.get("Element") == "FL" and isinstance(payload, dict):
            _collect_embedded(payload.get("Flow") or [], embedded)
    return name, questions, embedded


def _qsf_question(payload: dict[str, Any], number: int) -> dict[str, Any]:
    name = str(payload.get("DataExportTag") or f"Q{number}")
    text = str(payload.get("QuestionText") or payload.get("QuestionDescription") or "")
    qtype = str(payload.get("QuestionType") or "TE")
    selector = str(payload.get("Selector") or "")
    if (qtype == "MC" and selector == "NPS") or qtype == "NPS":
        return net_promoter(name, text)
    if qtype == "MC":
        question = multiple_choice(name, text, [], multiple=selector in ("MAVR", "MAHR", "MACOL", "MSB"))
        sub_selector = payload.get("SubSelector")
        question["questionType"] = {"type": "MC", "selector": selector or "SAVR", "subSelector": sub_selector}
        recodes = payload.get("RecodeValues") or {}
        for code, choice in (payload.get("Choices") or {}).items():
            display = choice.get("Display", "") if isinstance(choice, dict) else str(choice)
            question["choices"][str(code)] = _choice(str(code), display, str(recodes.get(code, code)))
        return question
    question = text_entry(name, text)
    question["questionType"] = {"type": qtype, "selector": selector or None, "subSelector": payload.get("SubSelector")}
    return question


def _collect_embedded(flow: list[Any], into: list[str]) -> None:
    for item in flow:
        if not isinstance(item, dict):
            continue
        if item.get("Type") == "EmbeddedData":
            for entry in item.get("EmbeddedData") or []:
                field = entry.get("Field") if isinstance(entry, dict) else None
                if field and field not in into:
                    into.append(str(field))
        _collect_embedded(item.get("Flow") or [], into)


def parse_advanced_txt(data: bytes) -> dict[str, dict[str, Any]]:
    """Questions from Qualtrics' Advanced TXT format: `[[Question:MC]]`, text, then one choice a line."""
    text = data.decode("utf-8-sig", errors="replace")
    questions: dict[str, dict[str, Any]] = {}
    for block in re.split(r"^\[\[Question:", text, flags=re.MULTILINE)[1:]:
        header, _, rest = block.partition("]]")
        lines = [line.strip() for line in rest.splitlines() if line.strip() and not line.strip().startswith("[[")]
        if not lines:
            continue
        number = len(questions) + 1
        qid, name = f"QID{number}", f"Q{number}"
        kind = header.split(":")[0].strip().upper()
        if kind == "MC":
            questions[qid] = multiple_choice(name, lines[0], lines[1:], multiple="MULTIPLE" in header.upper())
        elif kind == "NPS":
            questions[qid] = net_promoter(name, lines[0])
        else:
            questions[qid] = text_entry(name, lines[0])
    return questions


# Export files -----------------------------------------------------------------------------------


def _columns(survey: Survey) -> list[tuple[str, str, str]]:
    columns = list(EXPORT_METADATA)
    for qid, question in survey.questions.items():
        name, text = question["questionName"], question["questionText"]
        for key in question_keys(qid, question):
            if key.endswith("_NPS_GROUP"):
                columns.append((f"{name}_NPS_GROUP", f"{text} - Group", key))
            else:
                columns.append((name, text, key))
    for name in survey.embedded_data:
        columns.append((name, name, name))
    return columns


def _cell(response: Response, key: str, use_labels: bool) -> str:
    value = response.labels.get(key) if use_labels and key in response.labels else response.values.get(key, "")
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if key in ("startDate", "endDate", "recordedDate") and value:
        return parse_iso(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def render_export(
    survey: Survey, responses: list[Response], file_format: str, options: dict[str, Any]
) -> tuple[str, bytes, str]:
    """(file name, body, content type) of an export; zipped unless `compress` is false (§6.2)."""
    use_labels = bool(options.get("useLabels"))
    if file_format in ("csv", "tsv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="," if file_format == "csv" else "\t", lineterminator="\r\n")
        columns = _columns(survey)
        # Qualtrics CSV exports carry three header rows: column, question text, import id.
        writer.writerow([c[0] for c in columns])
        writer.writerow([c[1] for c in columns])
        writer.writerow([json.dumps({"ImportId": c[2]}) for c in columns])
        for response in responses:
            writer.writerow([_cell(response, c[2], use_labels) for c in columns])
        body = buffer.getvalue().encode("utf-8-sig")
        content_type = f"application/{file_format}"
    elif file_format == "json":
        body = json.dumps({"responses": [r.as_result() for r in responses]}).encode()
        content_type = "application/json"
    else:  # ndjson
        body = "".join(json.dumps(r.as_result()) + "\n" for r in responses).encode()
        content_type = "application/x-ndjson"
    filename = f"{survey.name}.{file_format}"
    if options.get("compress", True) is False:
        return filename, body, content_type
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr(filename, body)
    return f"{survey.name}.zip", archive.getvalue(), "application/zip"
