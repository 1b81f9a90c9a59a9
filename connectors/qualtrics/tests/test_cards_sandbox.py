"""Every Qualtrics card run once against the sandbox over HTTP, then once into a Qualtrics error.

Each case names what Qualtrics must receive (method, path, JSON body) and what the card must
output; the error case names the error class and the words the flow author will read.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from connectors import registry
from connectors.qualtrics import errors
from connectors.qualtrics.client import QualtricsClient
from connectors.specs import CardInputError, RunContext, file_value

# A small survey file as Qualtrics exports it (.qsf is JSON; questions are `SQ` survey elements).
QSF = json.dumps(
    {
        "SurveyEntry": {"SurveyID": "SV_qsf0000000001", "SurveyName": "Weekly check-in", "SurveyLanguage": "EN"},
        "SurveyElements": [
            {
                "SurveyID": "SV_qsf0000000001",
                "Element": "SQ",
                "PrimaryAttribute": "QID1",
                "Payload": {
                    "QuestionID": "QID1",
                    "DataExportTag": "Q1",
                    "QuestionText": "How was your week?",
                    "QuestionType": "MC",
                    "Selector": "SAVR",
                    "Choices": {"1": {"Display": "Good"}, "2": {"Display": "Hard"}},
                },
            },
        ],
    }
).encode()
MISSING = {
    "user": "UR_missing0000001",
    "group": "GR_missing0000001",
    "survey": "SV_missing0000001",
    "contact": "CID_missing000001",
    "directory": "POOL_missing00001",
    "list": "CG_missing0000001",
    "response": "R_missing00000001",
}


@dataclass
class World:
    """What a case needs from the sandbox: its ids, plus anything the setup created."""

    sandbox: Any
    client: Any
    files_dir: Path
    ids: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str:
        return self.ids[key]


@pytest.fixture
def world(qualtrics_sandbox, settings, tmp_path) -> Iterator[World]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.QUALTRICS_NEW_RESPONSE_RETRY_DELAYS = (0.05,)
    qualtrics_sandbox.set_export_polls(1)
    sandbox = qualtrics_sandbox
    files_dir = tmp_path / "media" / "runs" / "1"
    brand = sandbox.brand
    ids = {
        "survey": sandbox.survey_id,
        "directory": sandbox.directory_id,
        "list": sandbox.mailing_list_id,
        "admin": sandbox.info.user_id,
        "user_type": next(iter(brand.user_types)),
        "group_type": next(iter(brand.group_types)),
    }
    client = QualtricsClient(
        datacenter=sandbox.datacenter,
        token=sandbox.token,
        timeout=(2, 5),
        max_retries=2,
        max_retry_seconds=3,
        backoff_base=0.01,
        backoff_max=0.05,
    )
    world = World(sandbox, client, files_dir, ids)
    yield world
    client.close()
    world.client.close()  # an error case may have swapped in a client with another token


# Setups: each creates, through the client, what a card will then act on. -------------------------


def make_user(w: World) -> None:
    w.ids["user"] = w.client.create_user(
        username="grace@example.com",
        firstName="Grace",
        lastName="Hopper",
        email="grace@example.com",
        userType=w["user_type"],
        password="S3cret-pass",
        language="en",
    )


def make_group(w: World) -> None:
    w.ids["group"] = w.client.create_group(type=w["group_type"], name="Analysts")


def make_member(w: World) -> None:
    make_user(w)
    make_group(w)
    w.client.add_group_member(w["group"], w["user"])


def make_contact(w: World) -> None:
    w.ids["contact"] = w.client.create_contact(
        w["directory"],
        firstName="Ada",
        lastName="Lovelace",
        email="ada@example.com",
        extRef="crm-1815",
        language="EN",
        embeddedData={"plan": "gold"},
    )


def make_list_contact(w: World) -> None:
    created = w.client.create_mailing_list_contact(
        w["directory"],
        w["list"],
        firstName="Ada",
        lastName="Lovelace",
        email="ada@example.com",
    )
    w.ids["contact"], w.ids["lookup"] = created["id"], created["contactLookupId"]


def make_response(w: World) -> None:
    w.ids["response"] = w.sandbox.record_response(
        w["survey"],
        {
            "QID1": 2,
            "QID2_TEXT": "Faster exports",
            "QID3": 9,
            "customer_id": "C-1042",
            "recipientEmail": "ada@example.com",
            "recipientFirstName": "Ada",
            "recipientLastName": "Lovelace",
            "externalDataReference": "crm-1815",
            "distributionChannel": "email",
        },
        notify=False,
    )


def make_survey_file(w: World, name: str = "checkin.qsf", data: bytes | None = None) -> dict[str, Any]:
    path = w.files_dir / "uploads" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(QSF if data is None else data)
    return file_value(path)


def no_token(w: World) -> None:
    w.client = QualtricsClient(datacenter=w.sandbox.datacenter, token="not-a-sandbox-token-0000000", max_retries=0)


def no_api_access(w: World) -> None:
    w.sandbox.add_token("sandbox-no-api-token-000000000000000", api_access=False)
    w.client = QualtricsClient(datacenter=w.sandbox.datacenter, token="sandbox-no-api-token-000000000000000")


@dataclass
class Case:
    key: str
    options: Callable[[World], dict[str, Any]]
    inputs: Callable[[World], dict[str, Any]]
    request: Callable[[World], tuple[str, str]]  # (method, path under /API/v3/)
    outputs: Callable[[World, dict[str, Any]], None]
    body: Callable[[World], Any] | None = None  # the JSON Qualtrics must receive, if any
    setup: Callable[[World], None] | None = None
    error_setup: Callable[[World], None] | None = None
    error_options: Callable[[World], dict[str, Any]] | None = None
    error_inputs: Callable[[World], dict[str, Any]] | None = None
    error: tuple[type[Exception], str] = (errors.NotFoundError, "(404)")

    def __str__(self) -> str:
        return self.key


def none(w: World) -> dict[str, Any]:
    return {}


def directory(w: World) -> dict[str, Any]:
    return {"directory_id": w["directory"]}


def mailing_list(w: World) -> dict[str, Any]:
    return {"directory_id": w["directory"], "mailing_list_id": w["list"]}


def user_id(w: World) -> dict[str, Any]:
    return {"user_id": w["user"]}


def check(expected: dict[str, Any]) -> Callable[[World, dict[str, Any]], None]:
    def compare(w: World, outputs: dict[str, Any]) -> None:
        assert outputs == expected

    return compare


CONTACT_INPUTS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone": "+44 20 7946 0000",
    "external_reference": "crm-1815",
    "language": "EN",
    "unsubscribed": "false",
    "embedded_data": {"plan": "gold", "seats": 5},
}
CONTACT_BODY = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.com",
    "phone": "+44 20 7946 0000",
    "extRef": "crm-1815",
    "language": "EN",
    "unsubscribed": False,
    "embeddedData": {"plan": "gold", "seats": "5"},
}


def contact_outputs(w: World, outputs: dict[str, Any]) -> None:
    assert outputs["contact_id"] == w["contact"]
    assert (outputs["first_name"], outputs["last_name"], outputs["email"]) == ("Ada", "Lovelace", "ada@example.com")


CASES = [
    # Users ------------------------------------------------------------------------------------
    Case(
        "qualtrics.create_user",
        none,
        lambda w: {
            "username": "ada@example.com",
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "user_type": w["user_type"],
            "password": "S3cret-pass",
            "language": "en",
            "time_zone": "Europe/London",
            "division_id": "",
        },
        lambda w: ("POST", "users"),
        lambda w, out: (assert_prefix(out["user_id"], "UR_"), assert_equal(set(out), {"user_id"})),
        body=lambda w: {
            "username": "ada@example.com",
            "email": "ada@example.com",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "userType": w["user_type"],
            "password": "S3cret-pass",
            "language": "en",
            "timeZone": "Europe/London",
        },
        error_inputs=lambda w: {
            "username": "ada@example.com",
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "user_type": "UT_nope",
            "password": "S3cret-pass",
        },
        error=(errors.ValidationError, "Qualtrics rejected POST users (400): Unknown userType 'UT_nope'."),
    ),
    Case(
        "qualtrics.read_user",
        none,
        user_id,
        lambda w: ("GET", f"users/{w['user']}"),
        lambda w, out: (
            assert_equal(
                (out["user_id"], out["username"], out["first_name"], out["last_name"], out["email"]),
                (w["user"], "grace@example.com", "Grace", "Hopper", "grace@example.com"),
            ),
            assert_equal(out["user_type"], w["user_type"]),
            assert_equal(out["account_status"], "active"),
        ),
        setup=make_user,
        error_inputs=lambda w: {"user_id": MISSING["user"]},
    ),
    Case(
        "qualtrics.update_user",
        none,
        lambda w: {"user_id": w["user"], "last_name": "King", "email": "", "status": "Disabled"},
        lambda w: ("PUT", f"users/{w['user']}"),
        check({"updated": True}),
        body=lambda w: {"lastName": "King", "status": "Disabled"},
        setup=make_user,
        error_inputs=lambda w: {"user_id": MISSING["user"], "last_name": "King"},
    ),
    Case(
        "qualtrics.delete_user",
        none,
        user_id,
        lambda w: ("DELETE", f"users/{w['user']}"),
        check({"deleted": True}),
        setup=make_user,
        error_inputs=lambda w: {"user_id": MISSING["user"]},
    ),
    # Groups -----------------------------------------------------------------------------------
    Case(
        "qualtrics.add_user_to_group",
        lambda w: {"group_id": w["group"]},
        user_id,
        lambda w: ("POST", f"groups/{w['group']}/members"),
        check({"added": True}),
        body=lambda w: {"userId": w["user"]},
        setup=lambda w: (make_user(w), make_group(w)),
        error_options=lambda w: {"group_id": MISSING["group"]},
    ),
    Case(
        "qualtrics.remove_user_from_group",
        lambda w: {"group_id": w["group"]},
        user_id,
        lambda w: ("DELETE", f"groups/{w['group']}/members/{w['user']}"),
        check({"removed": True}),
        setup=make_member,
        error_setup=lambda w: (make_user(w), make_group(w)),
        error=(errors.NotFoundError, "Qualtrics found nothing at DELETE groups/"),
    ),
    Case(
        "qualtrics.create_group",
        none,
        lambda w: {"name": "Analysts", "type": w["group_type"]},
        lambda w: ("POST", "groups"),
        lambda w, out: assert_prefix(out["group_id"], "GR_"),
        body=lambda w: {"name": "Analysts", "type": w["group_type"]},
        error_inputs=lambda w: {"name": "Analysts", "type": "GT_nope"},
        error=(errors.ValidationError, "Unknown group type 'GT_nope'"),
    ),
    Case(
        "qualtrics.read_group",
        none,
        lambda w: {"group_id": w["group"]},
        lambda w: ("GET", f"groups/{w['group']}"),
        lambda w, out: (
            assert_equal((out["group_id"], out["name"], out["type"]), (w["group"], "Analysts", w["group_type"])),
            assert_equal(out["creator_id"], w["admin"]),
        ),
        setup=make_group,
        error_inputs=lambda w: {"group_id": MISSING["group"]},
    ),
    Case(
        "qualtrics.update_group",
        none,
        lambda w: {"group_id": w["group"], "name": "Senior analysts"},
        lambda w: ("PUT", f"groups/{w['group']}"),
        check({"updated": True}),
        body=lambda w: {"name": "Senior analysts"},
        setup=make_group,
        error_inputs=lambda w: {"group_id": MISSING["group"], "name": "X"},
    ),
    Case(
        "qualtrics.delete_group",
        none,
        lambda w: {"group_id": w["group"]},
        lambda w: ("DELETE", f"groups/{w['group']}"),
        check({"deleted": True}),
        setup=make_group,
        error_inputs=lambda w: {"group_id": MISSING["group"]},
    ),
    # Surveys ----------------------------------------------------------------------------------
    Case(
        "qualtrics.read_all_surveys",
        none,
        none,
        lambda w: ("GET", "surveys"),
        lambda w, out: (
            assert_equal(out["count"], 1),
            assert_equal([(s["id"], s["name"]) for s in out["surveys"]], [(w["survey"], "Customer Satisfaction")]),
        ),
        error_setup=no_token,
        error=(errors.AuthenticationError, "Qualtrics refused the API token (401)"),
    ),
    Case(
        "qualtrics.read_survey",
        none,
        lambda w: {"survey_id": w["survey"]},
        lambda w: ("GET", f"surveys/{w['survey']}"),
        lambda w, out: (
            assert_equal(
                (out["survey_id"], out["name"], out["is_active"]), (w["survey"], "Customer Satisfaction", True)
            ),
            assert_equal(out["question_count"], 3),
            assert_equal(sorted(out["questions"]), ["QID1", "QID2", "QID3"]),
            assert_equal(out["embedded_data"], [{"name": "customer_id"}]),
        ),
        error_inputs=lambda w: {"survey_id": MISSING["survey"]},
    ),
    Case(
        "qualtrics.update_survey",
        none,
        lambda w: {
            "survey_id": w["survey"],
            "name": "CSAT 2027",
            "is_active": False,
            "expiration_start_date": "2027-01-01",
            "expiration_end_date": "",
        },
        lambda w: ("PUT", f"surveys/{w['survey']}"),
        check({"updated": True}),
        body=lambda w: {"name": "CSAT 2027", "isActive": False, "expiration": {"startDate": "2027-01-01"}},
        error_inputs=lambda w: {"survey_id": MISSING["survey"], "name": "X"},
    ),
    Case(
        "qualtrics.delete_survey",
        none,
        lambda w: {"survey_id": w["survey"]},
        lambda w: ("DELETE", f"surveys/{w['survey']}"),
        check({"deleted": True}),
        error_inputs=lambda w: {"survey_id": MISSING["survey"]},
    ),
    Case(
        "qualtrics.import_survey",
        none,
        lambda w: {"survey_name": "Imported check-in", "file": make_survey_file(w)},
        lambda w: ("POST", "surveys"),
        lambda w, out: (
            assert_prefix(out["survey_id"], "SV_"),
            assert_equal(w.client.get_survey(out["survey_id"])["name"], "Imported check-in"),
            assert_equal(
                w.client.get_survey(out["survey_id"])["questions"]["QID1"]["questionText"], "How was your week?"
            ),
        ),
        error_setup=no_api_access,
        error=(errors.PermissionDeniedError, "(403)"),
    ),
    # Responses ---------------------------------------------------------------------------------
    Case(
        "qualtrics.read_response",
        lambda w: {"survey_id": w["survey"]},
        lambda w: {"response_id": w["response"]},
        lambda w: ("GET", f"surveys/{w['survey']}/responses/{w['response']}"),
        lambda w, out: assert_equal(
            {k: v for k, v in out.items() if k not in ("start_date", "end_date", "recipient_ip_address")},
            {
                "response_set": "Default Response Set",
                "status": "IP Address",
                "finished": True,
                "recipient_name": "Ada Lovelace",
                "recipient_external_reference": "crm-1815",
                "recipient_email": "ada@example.com",
                "q.QID1": 2,
                "q.QID1_label": "Satisfied",
                "q.QID2": "Faster exports",
                "q.QID3": 9,
                "ed.customer_id": "C-1042",
            },
        ),
        setup=make_response,
        error_setup=make_response,
        error_inputs=lambda w: {"response_id": MISSING["response"]},
        error=(errors.NotFoundError, "Qualtrics found nothing at GET surveys/"),
    ),
    Case(
        "qualtrics.export_responses",
        lambda w: {"survey_id": w["survey"], "format": "json"},
        lambda w: {"start_date": "2020-01-01", "end_date": ""},
        lambda w: ("POST", f"surveys/{w['survey']}/export-responses"),
        lambda w, out: assert_export(w, out),
        body=lambda w: {"format": "json", "startDate": "2020-01-01T00:00:00Z"},
        setup=make_response,
        error_options=lambda w: {"survey_id": MISSING["survey"], "format": "csv"},
    ),
    # Contacts ---------------------------------------------------------------------------------
    Case(
        "qualtrics.create_contact",
        directory,
        lambda w: dict(CONTACT_INPUTS),
        lambda w: ("POST", f"directories/{w['directory']}/contacts"),
        lambda w, out: assert_prefix(out["contact_id"], "CID_"),
        body=lambda w: CONTACT_BODY,
        error_options=lambda w: {"directory_id": MISSING["directory"]},
    ),
    Case(
        "qualtrics.read_contact",
        directory,
        lambda w: {"contact_id": w["contact"]},
        lambda w: ("GET", f"directories/{w['directory']}/contacts/{w['contact']}"),
        lambda w, out: (
            contact_outputs(w, out),
            assert_equal((out["external_reference"], out["unsubscribed"]), ("crm-1815", False)),
            assert_equal(out["embedded_data"], {"plan": "gold"}),
            assert_equal(out["mailing_list_membership"], []),
        ),
        setup=make_contact,
        error_inputs=lambda w: {"contact_id": MISSING["contact"]},
    ),
    Case(
        "qualtrics.update_contact",
        directory,
        lambda w: {"contact_id": w["contact"], "last_name": "King", "unsubscribed": True},
        lambda w: ("PUT", f"directories/{w['directory']}/contacts/{w['contact']}"),
        check({"updated": True}),
        body=lambda w: {"lastName": "King", "unsubscribed": True},
        setup=make_contact,
        error_inputs=lambda w: {"contact_id": MISSING["contact"], "last_name": "King"},
    ),
    Case(
        "qualtrics.delete_contact",
        directory,
        lambda w: {"contact_id": w["contact"]},
        lambda w: ("DELETE", f"directories/{w['directory']}/contacts/{w['contact']}"),
        check({"deleted": True}),
        setup=make_contact,
        error_inputs=lambda w: {"contact_id": MISSING["contact"]},
    ),
    # Mailing lists (XM Directory) --------------------------------------------------------------
    Case(
        "qualtrics.create_contact_in_mailing_list",
        mailing_list,
        lambda w: dict(CONTACT_INPUTS),
        lambda w: ("POST", f"directories/{w['directory']}/mailinglists/{w['list']}/contacts"),
        lambda w, out: (
            assert_equal(set(out), {"contact_id", "contact_lookup_id"}),
            assert_prefix(out["contact_id"], "CID_"),
            assert_prefix(out["contact_lookup_id"], "CGC_"),
        ),
        body=lambda w: CONTACT_BODY,
        error_options=lambda w: {"directory_id": w["directory"], "mailing_list_id": MISSING["list"]},
    ),
    Case(
        "qualtrics.read_contact_from_mailing_list",
        mailing_list,
        lambda w: {"contact_id": w["contact"]},
        lambda w: ("GET", f"directories/{w['directory']}/mailinglists/{w['list']}/contacts/{w['contact']}"),
        lambda w, out: (
            contact_outputs(w, out),
            assert_equal((out["contact_lookup_id"], out["mailing_list_unsubscribed"]), (w["lookup"], False)),
            assert_equal(out["embedded_data"], {}),
        ),
        setup=make_list_contact,
        error_setup=make_contact,  # in the directory but not on the list
        error=(errors.NotFoundError, "(404)"),
    ),
    Case(
        "qualtrics.update_contact_in_mailing_list",
        mailing_list,
        lambda w: {"contact_id": w["contact"], "email": "ada@lovelace.example"},
        lambda w: ("PUT", f"directories/{w['directory']}/mailinglists/{w['list']}/contacts/{w['contact']}"),
        check({"updated": True}),
        body=lambda w: {"email": "ada@lovelace.example"},
        setup=make_list_contact,
        error_inputs=lambda w: {"contact_id": MISSING["contact"], "email": "x@example.com"},
    ),
    Case(
        "qualtrics.delete_contact_from_mailing_list",
        mailing_list,
        lambda w: {"contact_id": w["contact"]},
        lambda w: ("DELETE", f"directories/{w['directory']}/mailinglists/{w['list']}/contacts/{w['contact']}"),
        check({"deleted": True}),
        setup=make_list_contact,
        error_inputs=lambda w: {"contact_id": MISSING["contact"]},
    ),
    Case(
        "qualtrics.read_mailing_lists",
        directory,
        none,
        lambda w: ("GET", f"directories/{w['directory']}/mailinglists"),
        lambda w, out: (
            assert_equal(out["count"], 1),
            assert_equal([(m["mailingListId"], m["name"]) for m in out["mailing_lists"]], [(w["list"], "Newsletter")]),
        ),
        error_options=lambda w: {"directory_id": MISSING["directory"]},
    ),
    Case(
        "qualtrics.read_mailing_list_contacts",
        mailing_list,
        none,
        lambda w: ("GET", f"directories/{w['directory']}/mailinglists/{w['list']}/contacts"),
        lambda w, out: (
            assert_equal(out["count"], 1),
            assert_equal(
                [(c["contactId"], c["contactLookupId"]) for c in out["contacts"]], [(w["contact"], w["lookup"])]
            ),
        ),
        setup=make_list_contact,
        error_options=lambda w: {"directory_id": w["directory"], "mailing_list_id": MISSING["list"]},
    ),
    # Custom API Action -------------------------------------------------------------------------
    Case(
        "qualtrics.custom_api_action",
        lambda w: {"method": "PUT"},
        lambda w: {
            "relative_url": f"surveys/{w['survey']}",
            "query": {"lang": "EN"},
            "headers": {"X-Custom": "yes"},
            "body": {"name": "Renamed"},
        },
        lambda w: ("PUT", f"surveys/{w['survey']}"),
        lambda w, out: (
            assert_equal(out["status_code"], 200),
            assert_equal(out["body"]["meta"]["httpStatus"], "200 - OK"),
            assert_equal(out["headers"]["Content-Type"], "application/json"),
            assert_equal(w.client.get_survey(w["survey"])["name"], "Renamed"),
        ),
        body=lambda w: {"name": "Renamed"},
        error_inputs=lambda w: {"relative_url": "../../other/API/v3/surveys"},
        error=(errors.UnsafeRequestError, "is not allowed: it contains '.' or '..' path segments"),
    ),
]


def assert_equal(actual: Any, expected: Any) -> None:
    assert actual == expected


def assert_prefix(value: Any, prefix: str) -> None:
    assert isinstance(value, str) and value.startswith(prefix), value


def assert_export(w: World, out: dict[str, Any]) -> None:
    assert out["format"] == "json"
    file = out["file"]
    assert file["type"] == "file" and file["content_type"] == "application/json"
    path = Path(settings.MEDIA_ROOT) / file["path"]
    assert path.is_file() and path.stat().st_size == file["size"]
    assert path.resolve().is_relative_to(w.files_dir.resolve())
    document = json.loads(path.read_text())
    assert [r["responseId"] for r in document["responses"]] == [w["response"]]


def run_card(w: World, key: str, options: dict[str, Any], inputs: dict[str, Any], progress: list | None = None):
    card = registry.get(key)
    ctx = RunContext(
        client=w.client,
        files_dir=w.files_dir,
        on_progress=(progress.append if progress is not None else lambda p: None),
    )
    return card.run(ctx, options, inputs)


ACTION_KEYS = sorted(c.key for c in registry.all_cards() if c.connector == "qualtrics" and c.kind == "action")


def test_every_action_card_has_a_case():
    assert sorted(case.key for case in CASES) == ACTION_KEYS
    assert len(ACTION_KEYS) == 28


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_card_calls_qualtrics_and_gives_its_outputs(case: Case, world: World):
    if case.setup:
        case.setup(world)
    world.sandbox.clear_requests()

    outputs = run_card(world, case.key, case.options(world), case.inputs(world))

    method, path = case.request(world)
    calls = world.sandbox.requests(method=method)
    matching = [c for c in calls if c["api_path"] == path]
    received = [(c["method"], c["api_path"]) for c in world.sandbox.requests()]
    assert matching, f"Qualtrics never received {method} {path}; it received {received}"
    sent = matching[0]
    assert sent["has_token"] and sent["status"] < 300
    if case.body is not None:
        assert json.loads(sent["body"]) == case.body(world)
    card = registry.get(case.key)
    declared = {f.key for f in card.outputs}
    assert set(outputs) <= declared | {k for k in outputs if k.startswith(("q.", "ed.")) and card.dynamic_outputs}
    case.outputs(world, outputs)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_qualtrics_error_reaches_the_flow_as_a_clear_message(case: Case, world: World):
    (case.error_setup or case.setup or (lambda w: None))(world)
    options = (case.error_options or case.options)(world)
    inputs = (case.error_inputs or case.inputs)(world)
    expected_class, words = case.error

    with pytest.raises(expected_class) as caught:
        run_card(world, case.key, options, inputs)

    assert words in caught.value.message
    assert not caught.value.message.startswith("{") and "Traceback" not in caught.value.message


# The event and the cards' own checks ---------------------------------------------------------------


def test_new_response_outputs_every_question_of_the_survey(world: World):
    make_response(world)
    world.sandbox.clear_requests()

    outputs = run_card(
        world, "qualtrics.new_response", {"survey_id": world["survey"]}, {"response_id": world["response"]}
    )

    assert [(c["method"], c["api_path"]) for c in world.sandbox.requests()] == [
        ("GET", f"surveys/{world['survey']}/responses/{world['response']}"),
        ("GET", f"surveys/{world['survey']}"),
    ]
    assert outputs["response_id"] == world["response"]
    assert outputs["response_event_context"] == "email"
    assert outputs["finished"] is True and outputs["status"] == "IP Address"
    assert (outputs["recipient_name"], outputs["recipient_email"]) == ("Ada Lovelace", "ada@example.com")
    assert outputs["recipient_ip_address"].startswith("203.0.113.")
    assert (outputs["q.QID1"], outputs["q.QID1_label"], outputs["q.QID2"], outputs["q.QID3"]) == (
        2,
        "Satisfied",
        "Faster exports",
        9,
    )
    assert outputs["ed.customer_id"] == "C-1042"


def test_a_second_new_response_reuses_the_survey_read_and_parsed_for_the_first(world: World):
    from connectors.qualtrics.cards.responses import _survey_definition

    make_response(world)
    first = run_card(world, "qualtrics.new_response", {"survey_id": world["survey"]}, {"response_id": world["response"]})
    world.sandbox.clear_requests()
    kept = _survey_definition(world.client, world["survey"], cached=True)
    second = run_card(world, "qualtrics.new_response", {"survey_id": world["survey"]}, {"response_id": world["response"]})

    assert second == first
    assert [c["api_path"] for c in world.sandbox.requests()] == [
        f"surveys/{world['survey']}/responses/{world['response']}"]
    # The questions are parsed once per kept survey, not for every response.
    assert _survey_definition(world.client, world["survey"], cached=True)[1] is kept[1] is not None


def test_new_response_waits_for_a_response_that_is_not_there_yet(world: World):
    make_response(world)
    world.sandbox.inject_fault(f"surveys/{world['survey']}/responses", 404)

    outputs = run_card(
        world, "qualtrics.new_response", {"survey_id": world["survey"]}, {"response_id": world["response"]}
    )

    assert outputs["response_id"] == world["response"]
    assert [c["status"] for c in world.sandbox.requests("surveys", method="GET")][:2] == [404, 200]


def test_new_response_gives_up_on_a_response_that_never_appears(world: World):
    with pytest.raises(errors.NotFoundError, match=r"\(404\)"):
        run_card(world, "qualtrics.new_response", {"survey_id": world["survey"]}, {"response_id": MISSING["response"]})
    assert len(world.sandbox.requests("surveys", method="GET")) == 2


def test_export_responses_reports_progress_and_writes_csv_by_default(world: World):
    make_response(world)
    progress: list[float] = []

    outputs = run_card(world, "qualtrics.export_responses", {"survey_id": world["survey"]}, {}, progress)

    assert outputs["format"] == "csv" and outputs["file"]["content_type"] == "text/csv"
    assert progress[0] == 0 and progress[-1] == 100 and progress == sorted(progress)
    assert world["response"] in (world.files_dir / Path(outputs["file"]["path"]).name).read_text()


def test_export_responses_refuses_an_end_before_the_start(world: World):
    with pytest.raises(CardInputError, match="End Date must be after Start Date"):
        run_card(
            world,
            "qualtrics.export_responses",
            {"survey_id": world["survey"]},
            {"start_date": "2026-02-01", "end_date": "2026-01-01"},
        )
    assert world.sandbox.requests() == []


def test_import_survey_refuses_a_file_over_the_size_limit(world: World, settings):
    settings.MAX_IMPORT_FILE_SIZE = 1024
    value = make_survey_file(world, "big.qsf", b"{" + b" " * 2048 + b"}")
    with pytest.raises(CardInputError, match=r"'big.qsf' is 2 KB; Qualtrics imports survey files of at most 1 KB\."):
        run_card(world, "qualtrics.import_survey", {}, {"survey_name": "Big", "file": value})
    assert world.sandbox.requests() == []


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("survey.pdf", b"%PDF-1.7", "Import Survey takes a .qsf, .txt or .docx file, not 'survey.pdf'."),
        ("survey.docx", b"not a zip", "'survey.docx' is not a Word (.docx) document."),
        ("survey.qsf", b"<html>", "'survey.qsf' is not a Qualtrics survey file (.qsf is JSON)."),
    ],
)
def test_import_survey_refuses_a_file_of_the_wrong_type(world: World, name, data, message):
    value = make_survey_file(world, name, data)
    with pytest.raises(CardInputError) as caught:
        run_card(world, "qualtrics.import_survey", {}, {"survey_name": "X", "file": value})
    assert str(caught.value) == message


def test_import_survey_sends_a_docx_with_the_qualtrics_doc_type(world: World):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    value = make_survey_file(world, "Survey.DOCX", buffer.getvalue())

    outputs = run_card(world, "qualtrics.import_survey", {}, {"survey_name": "From Word", "file": value})

    assert outputs["survey_id"].startswith("SV_")
    [sent] = world.sandbox.requests("surveys", method="POST")
    assert "application/vnd.qualtrics.survey.doc" in sent["body"]


def test_import_survey_refuses_a_file_outside_the_file_storage(world: World):
    outside = {"type": "file", "path": "../../etc/passwd", "name": "passwd.qsf", "size": 1}
    with pytest.raises(CardInputError, match="outside the file storage"):
        run_card(world, "qualtrics.import_survey", {}, {"survey_name": "X", "file": outside})


def test_custom_api_action_returns_an_error_status_instead_of_failing(world: World):
    outputs = run_card(
        world, "qualtrics.custom_api_action", {"method": "GET"}, {"relative_url": f"surveys/{MISSING['survey']}"}
    )
    assert outputs["status_code"] == 404
    assert outputs["body"]["meta"]["error"]["errorMessage"] == f"Survey {MISSING['survey']} not found."


def test_custom_api_action_sends_a_body_only_with_post_put_and_delete(world: World):
    with pytest.raises(CardInputError, match="Body is only sent with POST, PUT and DELETE"):
        run_card(world, "qualtrics.custom_api_action", {"method": "GET"}, {"relative_url": "surveys", "body": {"a": 1}})
    outputs = run_card(
        world,
        "qualtrics.custom_api_action",
        {"method": "GET"},
        {"relative_url": "surveys", "query": {"pageSize": 5, "active": True}},
    )
    assert outputs["status_code"] == 200
    [sent] = world.sandbox.requests("surveys", method="GET")
    assert sent["query"] == {"pageSize": "5", "active": "true"} and sent["body"] == ""


def test_a_card_without_a_configuration_says_so(world: World):
    card = registry.get("qualtrics.read_all_surveys")
    with pytest.raises(CardInputError, match="Choose a Qualtrics configuration for this card."):
        card.run(RunContext(), {}, {})


def test_a_missing_required_input_is_named(world: World):
    with pytest.raises(CardInputError, match="^Contact ID is required.$"):
        run_card(world, "qualtrics.read_contact", {"directory_id": world["directory"]}, {"contact_id": "  "})
    assert world.sandbox.requests() == []
