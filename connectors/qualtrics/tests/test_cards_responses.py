"""Survey questions as typed outputs, and a response record turned into New Response's outputs."""

from __future__ import annotations

from connectors import registry
from connectors.qualtrics.cards.responses import outputs_from_response, survey_output_fields


def choice(text, recode):
    return {"recode": recode, "description": text, "choiceText": text, "imageDescription": None, "analyze": True}


# `GET surveys/{id}` result, legacy shape (qualtrics-api.md §5.2).
SURVEY = {
    "id": "SV_abc",
    "name": "Customer check-in",
    "questions": {
        "QID1": {
            "questionType": {"type": "MC", "selector": "SAVR", "subSelector": "TX"},
            "questionText": "<p>Were you <b>satisfied</b>?</p>",
            "questionName": "Q1",
            "choices": {"1": choice("Yes", "1"), "2": choice("No", "0")},
        },
        "QID2": {
            "questionType": {"type": "TE", "selector": "SL", "subSelector": None},
            "questionText": "What could we do better?",
            "questionName": "Q2",
        },
        "QID3": {
            "questionType": {"type": "MC", "selector": "NPS", "subSelector": None},
            "questionText": "How likely are you to recommend us?",
            "questionName": "Q3",
            "choices": {str(i): choice(str(i), str(i)) for i in range(11)},
        },
        "QID4": {
            "questionType": {"type": "MC", "selector": "MAVR", "subSelector": "TX"},
            "questionText": "Which products do you use?",
            "questionName": "Q4",
            "choices": {"1": choice("Surveys", "1"), "2": choice("Flows", "2"), "3": choice("Dashboards", "3")},
        },
        "QID5": {
            "questionType": {"type": "DB", "selector": "TB", "subSelector": None},
            "questionText": "Thank you!",
            "questionName": "Q5",
        },
    },
    "embeddedData": [{"name": "plan"}, {"name": "source"}],
}

# `GET surveys/SV_abc/responses/R_1` result (qualtrics-api.md §6.1).
RESPONSE = {
    "responseId": "R_1",
    "values": {
        "startDate": "2026-11-30T09:12:03Z",
        "endDate": "2026-11-30T09:15:41Z",
        "status": 0,
        "ipAddress": "203.0.113.7",
        "progress": 100,
        "duration": 218,
        "finished": 1,
        "recordedDate": "2026-11-30T09:15:42.100Z",
        "_recordId": "R_1",
        "distributionChannel": "email",
        "userLanguage": "EN",
        "recipientEmail": "ada@example.com",
        "recipientFirstName": "Ada",
        "recipientLastName": "Lovelace",
        "externalDataReference": "crm-1815",
        "QID1": 0,
        "QID2_TEXT": "Faster exports",
        "QID3": 9,
        "QID3_NPS_GROUP": 3,
        "QID4": [1, 2],
        "plan": "gold",
    },
    "labels": {"status": "IP Address", "finished": "True", "QID1": "No", "QID3": "9", "QID4": ["Surveys", "Flows"]},
    "displayedFields": ["QID1", "QID2_TEXT", "QID3", "QID4"],
    "displayedValues": {"QID1": [1, 0]},
}


def test_choosing_a_survey_adds_one_typed_output_per_question():
    fields = {f.key: f for f in survey_output_fields(SURVEY)}
    assert list(fields) == [
        "q.QID1",
        "q.QID1_label",
        "q.QID2",
        "q.QID3",
        "q.QID4",
        "q.QID4_label",
        "ed.plan",
        "ed.source",
    ]
    satisfied = fields["q.QID1"]
    assert (satisfied.label, satisfied.type, satisfied.group) == ("Were you satisfied?", "number", "Questions")
    assert [(c.value, c.label) for c in satisfied.choices] == [("1", "Yes"), ("0", "No")]
    assert satisfied.help == "Answer codes: 1 = Yes, 0 = No"
    assert (fields["q.QID1_label"].type, fields["q.QID2"].type, fields["q.QID3"].type) == ("text", "text", "number")
    assert fields["q.QID4"].type == "list"
    assert (fields["ed.plan"].label, fields["ed.plan"].type, fields["ed.plan"].group) == (
        "plan",
        "text",
        "Embedded data",
    )


def test_a_response_becomes_the_event_outputs():
    assert outputs_from_response(RESPONSE, SURVEY) == {
        "response_id": "R_1",
        "recipient_id": None,
        "response_event_context": "email",
        "response_set": "Default Response Set",
        "status": "IP Address",
        "start_date": "2026-11-30T09:12:03Z",
        "end_date": "2026-11-30T09:15:41Z",
        "finished": True,
        "recipient_name": "Ada Lovelace",
        "recipient_external_reference": "crm-1815",
        "recipient_email": "ada@example.com",
        "recipient_ip_address": "203.0.113.7",
        "q.QID1": 0,
        "q.QID1_label": "No",
        "q.QID2": "Faster exports",
        "q.QID3": 9,
        "q.QID4": [1, 2],
        "q.QID4_label": "Surveys, Flows",
        "ed.plan": "gold",
        "ed.source": None,
    }


def test_every_event_output_key_is_declared_by_the_card_or_the_survey():
    card = registry.get("qualtrics.new_response")
    declared = {f.key for f in card.outputs} | {f.key for f in survey_output_fields(SURVEY)}
    assert set(outputs_from_response(RESPONSE, SURVEY)) == declared


def test_labels_come_from_the_survey_when_the_record_has_none():
    response = {**RESPONSE, "labels": {}}
    outputs = outputs_from_response(response, SURVEY)
    assert outputs["q.QID1_label"] == "No"
    assert outputs["status"] == "IP Address"
    assert outputs["q.QID4_label"] == "Surveys, Flows"


def test_unanswered_questions_are_empty_outputs():
    response = {"responseId": "R_2", "values": {"finished": 0, "status": 1}, "labels": {}}
    outputs = outputs_from_response(response, SURVEY)
    assert outputs["finished"] is False and outputs["status"] == "Survey Preview"
    assert outputs["q.QID1"] is None and outputs["q.QID1_label"] is None and outputs["q.QID2"] is None
    assert outputs["recipient_name"] is None


def test_without_the_survey_the_answers_in_the_record_are_used():
    outputs = outputs_from_response(RESPONSE)
    assert outputs["q.QID1"] == 0 and outputs["q.QID1_label"] == "No"
    assert outputs["q.QID2"] == "Faster exports"
    assert outputs["q.QID4"] == [1, 2]
    assert outputs["ed.plan"] == "gold"
    assert "q.QID3_NPS_GROUP" not in outputs and "ed.userLanguage" not in outputs


def test_a_survey_definition_in_qsf_shape_gives_the_same_kind_of_outputs():
    qsf = {
        "SurveyID": "SV_abc",
        "Questions": {
            "QID1": {
                "QuestionType": "MC",
                "Selector": "SAVR",
                "QuestionText": "Happy?",
                "Choices": {"1": {"Display": "Yes"}, "2": {"Display": "No"}},
                "RecodeValues": {"1": "5", "2": "1"},
            },
            "QID2": {"QuestionType": "TE", "Selector": "ML", "QuestionText": "Why?"},
        },
    }
    fields = survey_output_fields(qsf)
    assert [(f.key, f.type) for f in fields] == [("q.QID1", "number"), ("q.QID1_label", "text"), ("q.QID2", "text")]
    assert [(c.value, c.label) for c in fields[0].choices] == [("5", "Yes"), ("1", "No")]


def test_matrix_and_slider_questions_get_one_output_per_row():
    survey = {
        "questions": {
            "QID7": {
                "questionType": {"type": "Matrix", "selector": "Likert", "subSelector": "SingleAnswer"},
                "questionText": "Rate us",
                "subQuestions": {
                    "1": {"choiceText": "Speed", "recode": "1"},
                    "2": {"choiceText": "Price", "recode": "2"},
                },
                "choices": {"1": choice("Bad", "1"), "2": choice("Good", "2")},
            },
            "QID8": {
                "questionType": {"type": "Slider", "selector": "HSLIDER"},
                "questionText": "How much?",
                "choices": {"1": choice("Amount", "1")},
            },
        }
    }
    assert [(f.key, f.type) for f in survey_output_fields(survey)] == [
        ("q.QID7_1", "number"),
        ("q.QID7_1_label", "text"),
        ("q.QID7_2", "number"),
        ("q.QID7_2_label", "text"),
        ("q.QID8_1", "number"),
    ]
    outputs = outputs_from_response({"values": {"QID7_1": 2, "QID7_2": 1, "QID8_1": 42.5}, "labels": {}}, survey)
    assert outputs["q.QID7_1_label"] == "Good" and outputs["q.QID7_2"] == 1 and outputs["q.QID8_1"] == 42.5
