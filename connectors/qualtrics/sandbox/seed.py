"""Seed data: `empty` (a brand and its admin), `default` (what tests start from) and `demo`.

Ids are derived from fixed labels, so a restarted sandbox has the same surveys, directories and
lists and a demo flow that names them keeps working.
"""

from __future__ import annotations

import hashlib
import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.qualtrics.sandbox import surveys as q
from connectors.qualtrics.sandbox.api import (
    add_list_member,
    add_survey,
    add_user_record,
    group_record,
    record_response,
    upsert_contact,
)
from connectors.qualtrics.sandbox.delivery import Deliverer
from connectors.qualtrics.sandbox.state import Brand, Directory, MailingList, SandboxState

DATACENTER = "sandbox1"
TEST_BRAND_ID = "sandboxbrand"
TEST_TOKEN = "sandbox-test-token-000000000000000000000"
DEMO_BRAND_ID = "demobrand"
DEMO_TOKEN = "demo-token-0000000000000000000000000000"
DEMO_NO_API_TOKEN = "demo-noapi-token-00000000000000000000000"
DEMO_NOT_ADMIN_TOKEN = "demo-member-token-0000000000000000000000"
SEEDS = ("empty", "default", "demo")

_ALPHABET = string.ascii_letters + string.digits


def fixed_id(prefix: str, label: str) -> str:
    digest = hashlib.sha256(f"{prefix}{label}".encode()).digest()
    return prefix + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:15])


@dataclass(frozen=True)
class SeedInfo:
    """What a seed created that callers need to know: where to connect and a few handy ids."""

    seed: str
    datacenter: str
    token: str
    brand_id: str
    user_id: str
    survey_id: str | None = None
    directory_id: str | None = None
    mailing_list_id: str | None = None


def _brand(state: SandboxState, brand_id: str, token: str, first: str, last: str) -> Brand:
    brand = state.add_brand(brand_id, DATACENTER)
    brand.user_types = {
        fixed_id("UT_", f"{brand_id}:admin"): "Brand Administrator",
        fixed_id("UT_", f"{brand_id}:participant"): "Participant",
    }
    brand.group_types = {
        fixed_id("GT_", f"{brand_id}:team"): "Team",
        fixed_id("GT_", f"{brand_id}:department"): "Department",
    }
    admin_id = fixed_id("UR_", f"{brand_id}:admin")
    brand.admin_user_id = admin_id
    admin_type = next(iter(brand.user_types))
    brand.users[admin_id] = add_user_record(
        brand,
        admin_id,
        {
            "username": f"{first.lower()}.{last.lower()}@{brand_id}.example",
            "firstName": first,
            "lastName": last,
            "email": f"{first.lower()}.{last.lower()}@{brand_id}.example",
            "userType": admin_type,
        },
    )
    state.add_token(token, brand_id=brand_id, datacenter=DATACENTER, user_id=admin_id)
    return brand


def _satisfaction_questions() -> dict[str, dict]:
    return {
        "QID1": q.multiple_choice(
            "Q1",
            "Overall, how satisfied are you with our service?",
            ["Very satisfied", "Satisfied", "Neither satisfied nor dissatisfied", "Dissatisfied", "Very dissatisfied"],
        ),
        "QID2": q.text_entry("Q2", "What could we do better?"),
        "QID3": q.net_promoter("Q3", "How likely are you to recommend us to a friend or colleague?"),
    }


def seed_empty(state: SandboxState, deliverer: Deliverer) -> SeedInfo:
    brand = _brand(state, TEST_BRAND_ID, TEST_TOKEN, "Sandra", "Box")
    return SeedInfo("empty", DATACENTER, TEST_TOKEN, brand.brand_id, brand.admin_user_id)


def seed_default(state: SandboxState, deliverer: Deliverer) -> SeedInfo:
    brand = _brand(state, TEST_BRAND_ID, TEST_TOKEN, "Sandra", "Box")
    survey = add_survey(
        brand,
        "Customer Satisfaction",
        _satisfaction_questions(),
        embedded_data=["customer_id"],
        survey_id=fixed_id("SV_", f"{brand.brand_id}:csat"),
    )
    directory = Directory(fixed_id("POOL_", f"{brand.brand_id}:directory"), "Default Directory")
    brand.directories[directory.directory_id] = directory
    mailing_list = MailingList(fixed_id("CG_", f"{brand.brand_id}:newsletter"), "Newsletter", brand.admin_user_id)
    directory.mailing_lists[mailing_list.mailing_list_id] = mailing_list
    return SeedInfo(
        "default",
        DATACENTER,
        TEST_TOKEN,
        brand.brand_id,
        brand.admin_user_id,
        survey.survey_id,
        directory.directory_id,
        mailing_list.mailing_list_id,
    )


_FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Linus",
    "Margaret",
    "Tim",
    "Barbara",
    "Dennis",
    "Frances",
    "Ken",
    "Radia",
]
_LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Torvalds",
    "Hamilton",
    "Berners-Lee",
    "Liskov",
    "Ritchie",
    "Allen",
    "Thompson",
    "Perlman",
]
_COMMENTS = [
    "Faster replies to support tickets, please.",
    "The new dashboard is great.",
    "Pricing is hard to understand.",
    "",
    "Everything worked as expected.",
    "Please add an export to Excel.",
    "The mobile app logs me out too often.",
]


def seed_demo(state: SandboxState, deliverer: Deliverer) -> SeedInfo:
    """A brand that looks lived-in: surveys with answers, contacts in lists, users in groups."""
    rng = random.Random(20261130)
    brand = _brand(state, DEMO_BRAND_ID, DEMO_TOKEN, "Dana", "Demo")
    state.add_token(DEMO_NO_API_TOKEN, brand_id=brand.brand_id, datacenter=DATACENTER, api_access=False)
    participant = list(brand.user_types)[1]
    user_ids = []
    for index in range(4):
        first, last = _FIRST[index], _LAST[index]
        user_id = fixed_id("UR_", f"{brand.brand_id}:user:{index}")
        brand.users[user_id] = add_user_record(
            brand,
            user_id,
            {
                "username": f"{first.lower()}.{last.lower()}@{brand.brand_id}.example",
                "firstName": first,
                "lastName": last,
                "email": f"{first.lower()}.{last.lower()}@{brand.brand_id}.example",
                "userType": participant,
            },
        )
        user_ids.append(user_id)
    state.add_token(DEMO_NOT_ADMIN_TOKEN, brand_id=brand.brand_id, user_id=user_ids[0], brand_admin=False)
    team_type, department_type = list(brand.group_types)
    for label, name, group_type, members in (
        ("research", "Research team", team_type, user_ids[:2]),
        ("cx", "Customer Experience", department_type, user_ids[1:]),
    ):
        group_id = fixed_id("GR_", f"{brand.brand_id}:group:{label}")
        brand.groups[group_id] = group_record(brand, group_id, name, group_type, None)
        brand.groups[group_id]["members"] = list(members)

    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    csat_questions = _satisfaction_questions()
    csat_questions["QID4"] = q.multiple_choice(
        "Q4", "Which of our products do you use?", ["Surveys", "Dashboards", "Directory", "Workflows"], multiple=True
    )
    csat = add_survey(
        brand,
        "Customer Satisfaction 2026",
        csat_questions,
        embedded_data=["customer_id", "region"],
        survey_id=fixed_id("SV_", f"{brand.brand_id}:csat"),
        created_at=start - timedelta(days=30),
    )
    pulse = add_survey(
        brand,
        "Employee Pulse",
        {
            "QID1": q.multiple_choice("Q1", "How was your week?", ["Great", "Good", "Okay", "Hard", "Very hard"]),
            "QID2": q.text_entry("Q2", "Anything you would like your manager to know?"),
        },
        embedded_data=["department"],
        survey_id=fixed_id("SV_", f"{brand.brand_id}:pulse"),
        created_at=start - timedelta(days=20),
    )
    event = add_survey(
        brand,
        "Event Feedback: XM Summit",
        {
            "QID1": q.net_promoter("Q1", "How likely are you to recommend this event?"),
            "QID2": q.multiple_choice("Q2", "Which day did you attend?", ["Day 1", "Day 2", "Both days"]),
            "QID3": q.text_entry("Q3", "What was the best session?"),
        },
        survey_id=fixed_id("SV_", f"{brand.brand_id}:event"),
        created_at=start - timedelta(days=10),
    )

    for index in range(8):
        person = rng.randrange(len(_FIRST))
        values = {
            "QID1": rng.randint(1, 5),
            "QID2_TEXT": rng.choice(_COMMENTS),
            "QID3": rng.randint(0, 10),
            "QID4": sorted(rng.sample(range(1, 5), rng.randint(1, 3))),
            "customer_id": f"C-{1000 + index}",
            "region": rng.choice(["EMEA", "AMER", "APAC"]),
            "recipientEmail": f"{_FIRST[person].lower()}@customer.example",
            "recipientFirstName": _FIRST[person],
            "recipientLastName": _LAST[person],
            "distributionChannel": "email",
        }
        record_response(
            state,
            deliverer,
            brand,
            csat,
            values,
            recorded_at=start + timedelta(hours=7 * index),
            notify=False,
            response_id=fixed_id("R_", f"{brand.brand_id}:csat:{index}"),
        )
    for index in range(5):
        values = {
            "QID1": rng.randint(1, 5),
            "QID2_TEXT": rng.choice(_COMMENTS),
            "department": rng.choice(["Sales", "R&D"]),
        }
        record_response(
            state,
            deliverer,
            brand,
            pulse,
            values,
            recorded_at=start + timedelta(days=index),
            notify=False,
            response_id=fixed_id("R_", f"{brand.brand_id}:pulse:{index}"),
        )
    for index in range(6):
        values = {"QID1": rng.randint(3, 10), "QID2": rng.randint(1, 3), "QID3_TEXT": "Opening keynote"}
        record_response(
            state,
            deliverer,
            brand,
            event,
            values,
            recorded_at=start + timedelta(days=3, hours=index),
            notify=False,
            response_id=fixed_id("R_", f"{brand.brand_id}:event:{index}"),
        )

    directory = Directory(fixed_id("POOL_", f"{brand.brand_id}:directory"), "Demo Directory")
    brand.directories[directory.directory_id] = directory
    newsletter = MailingList(
        fixed_id("CG_", f"{brand.brand_id}:newsletter"), "Newsletter subscribers", brand.admin_user_id
    )
    beta = MailingList(fixed_id("CG_", f"{brand.brand_id}:beta"), "Beta testers", brand.admin_user_id)
    directory.mailing_lists[newsletter.mailing_list_id] = newsletter
    directory.mailing_lists[beta.mailing_list_id] = beta
    for index, (first, last) in enumerate(zip(_FIRST, _LAST, strict=True)):
        contact = upsert_contact(
            directory,
            {
                "firstName": first,
                "lastName": last,
                "email": f"{first.lower()}.{last.lower().replace('-', '')}@customer.example",
                "extRef": f"C-{1000 + index}",
                "language": "EN",
                "embeddedData": {"tier": rng.choice(["gold", "silver", "bronze"])},
            },
            contact_id=fixed_id("CID_", f"{brand.brand_id}:contact:{index}"),
        )
        add_list_member(newsletter, contact["contactId"])
        if index % 3 == 0:
            add_list_member(beta, contact["contactId"])
    return SeedInfo(
        "demo",
        DATACENTER,
        DEMO_TOKEN,
        brand.brand_id,
        brand.admin_user_id,
        csat.survey_id,
        directory.directory_id,
        newsletter.mailing_list_id,
    )


def apply_seed(name: str, state: SandboxState, deliverer: Deliverer) -> SeedInfo:
    if name not in SEEDS:
        raise ValueError(f"Unknown seed {name!r}; choose one of {', '.join(SEEDS)}.")
    return {"empty": seed_empty, "default": seed_default, "demo": seed_demo}[name](state, deliverer)
