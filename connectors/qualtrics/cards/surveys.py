"""Surveys: Read All Surveys, Read Survey, Update Survey, Delete Survey."""

from __future__ import annotations

from typing import Any

from connectors.coercion import require_something
from connectors.qualtrics import fields as qf
from connectors.qualtrics.cards._base import as_bool, client_of, qualtrics_card, required_text
from connectors.specs import Field

GROUP = "Surveys"

SURVEY_OUTPUTS = (
    Field("survey_id", "Survey ID"),
    Field("name", "Name"),
    Field("owner_id", "Owner ID"),
    Field("organization_id", "Organization ID"),
    Field("is_active", "Active?", type="boolean", help="If true, the survey is collecting responses."),
    Field("creation_date", "Creation Date"),
    Field("last_modified_date", "Last Modified Date"),
    Field("expiration_start_date", "Expiration Start Date"),
    Field("expiration_end_date", "Expiration End Date"),
    Field("response_count", "Response Count", type="number", help="Recorded (auditable) responses."),
    Field("question_count", "Question Count", type="number"),
    Field("questions", "Questions", type="object", help="The survey's questions by question ID (QID...)."),
    Field("embedded_data", "Embedded Data", type="list", help="The embedded data fields the survey declares."),
)


def survey_outputs(survey: dict[str, Any]) -> dict[str, Any]:
    expiration = survey.get("expiration") or {}
    counts = survey.get("responseCounts") or {}
    questions = survey.get("questions") or {}
    return {
        "survey_id": survey.get("id"),
        "name": survey.get("name"),
        "owner_id": survey.get("ownerId"),
        "organization_id": survey.get("organizationId"),
        "is_active": survey.get("isActive"),
        "creation_date": survey.get("creationDate"),
        "last_modified_date": survey.get("lastModifiedDate") or survey.get("lastModified"),
        "expiration_start_date": expiration.get("startDate"),
        "expiration_end_date": expiration.get("endDate"),
        "response_count": counts.get("auditable"),
        "question_count": len(questions),
        "questions": questions,
        "embedded_data": survey.get("embeddedData") or [],
    }


UPDATE_SURVEY_INPUTS = (
    qf.SURVEY_ID,
    Field("name", "Name", help="A new name for the survey."),
    Field("is_active", "Active?", type="boolean", help="True to activate the survey, false to close it."),
    Field("expiration_start_date", "Expiration Start Date", type="date", help="When the survey opens."),
    Field("expiration_end_date", "Expiration End Date", type="date", help="When the survey closes."),
)


def run_read_all_surveys(ctx, options, inputs):
    surveys = client_of(ctx).list_surveys()
    return {"surveys": surveys, "count": len(surveys)}


def run_read_survey(ctx, options, inputs):
    return survey_outputs(client_of(ctx).get_survey(required_text(inputs, "survey_id", "Survey ID")))


def run_update_survey(ctx, options, inputs):
    survey_id = required_text(inputs, "survey_id", "Survey ID")
    changes: dict[str, Any] = {}
    if str(inputs.get("name") or "").strip():
        changes["name"] = str(inputs["name"]).strip()
    active = as_bool(inputs.get("is_active"), "Active?")
    if active is not None:
        changes["isActive"] = active
    expiration = {
        api: str(inputs[key]).strip()
        for key, api in (("expiration_start_date", "startDate"), ("expiration_end_date", "endDate"))
        if str(inputs.get(key) or "").strip()
    }
    if expiration:
        changes["expiration"] = expiration
    require_something(changes, UPDATE_SURVEY_INPUTS[1:], action="Update Survey")
    client_of(ctx).update_survey(survey_id, **changes)
    return {"updated": True}


def run_delete_survey(ctx, options, inputs):
    client_of(ctx).delete_survey(required_text(inputs, "survey_id", "Survey ID"))
    return {"deleted": True}


READ_ALL_SURVEYS = qualtrics_card(
    name="Read All Surveys",
    safe=True,
    description="Read a list of all surveys in your account",
    group=GROUP,
    outputs=(
        Field(
            "surveys",
            "Surveys",
            type="list",
            help="Each survey as Qualtrics lists it: id, name, ownerId, lastModified, creationDate, isActive.",
        ),
        qf.COUNT,
    ),
    run=run_read_all_surveys,
)
READ_SURVEY = qualtrics_card(
    name="Read Survey",
    safe=True,
    description="Read information about a survey using the survey ID",
    group=GROUP,
    inputs=(qf.SURVEY_ID,),
    outputs=SURVEY_OUTPUTS,
    run=run_read_survey,
)
UPDATE_SURVEY = qualtrics_card(
    name="Update Survey",
    changes="changes the survey in Qualtrics",
    description="Update information about a survey using the survey ID",
    group=GROUP,
    inputs=UPDATE_SURVEY_INPUTS,
    outputs=(qf.UPDATED,),
    run=run_update_survey,
)
DELETE_SURVEY = qualtrics_card(
    name="Delete Survey",
    changes="deletes the survey in Qualtrics",
    description="Delete a survey using the survey ID",
    group=GROUP,
    inputs=(qf.SURVEY_ID,),
    outputs=(qf.DELETED,),
    run=run_delete_survey,
)
