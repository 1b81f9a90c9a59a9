"""The Qualtrics connector: its connection form, client, authorization, option sources and the
New Response trigger (an event subscription, with an incremental export as the polling path).

The facts this relies on are in docs/qualtrics-api.md (§9 event subscriptions and their
deliveries, §6.2 exports with continuation tokens).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import tempfile
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from config.parsers import HAS_NUL, json_problem
from connectors.http import ConnectorError
from connectors.qualtrics import errors
from connectors.specs import (
    Account,
    Connector,
    CredentialsError,
    DeliveryRefused,
    Enabled,
    Event,
    Field,
    InboundRequest,
    Polled,
    Source,
    Trigger,
    TriggerContext,
)

logger = logging.getLogger(__name__)

DATACENTER_RE = re.compile(r"^[A-Za-z0-9]{1,30}$")
DATACENTER_HELP = "The data center ID has only letters and digits, like us1 in us1.qualtrics.com."
COMPLETED_RESPONSE = "surveyengine.completedResponse."
RESPONSE_ID_MAX = 64
NEW_RESPONSE = "qualtrics.new_response"


# Connection ---------------------------------------------------------------------------------------

CREDENTIALS = (
    Field("datacenter", "Data Center ID", required=True, help="Like us1 in us1.qualtrics.com (Account Settings → Qualtrics IDs)."),
    Field("api_token", "API Token", required=True, secret=True, help="Account Settings → Qualtrics IDs → API → Token."),
    Field("username", "Username", help="The Qualtrics user the token belongs to (optional, for your reference)."),
)


def clean_credentials(values: dict[str, str]) -> dict[str, str]:
    datacenter = values.get("datacenter", "").strip().lower()
    if not DATACENTER_RE.match(datacenter):
        raise CredentialsError("datacenter", DATACENTER_HELP)
    return {**values, "datacenter": datacenter}


def build_client(credentials: Mapping[str, str], **options: Any):
    """A client for stored credentials; the (connect, read) timeouts are `QUALTRICS_TIMEOUT`
    unless given."""
    from connectors.qualtrics.client import QualtricsClient

    options.setdefault("timeout", getattr(settings, "QUALTRICS_TIMEOUT", (5, 30)))
    return QualtricsClient(datacenter=credentials.get("datacenter", ""), token=credentials.get("api_token", ""), **options)


def authorize(client) -> Account:
    """Proves the token with `GET whoami` and names whom it belongs to."""
    me = client.whoami()
    full_name = " ".join(p for p in [me.get("firstName"), me.get("lastName")] if p)
    return Account(
        id=str(me.get("userId") or ""),
        name=str(me.get("userName") or full_name or me.get("userId") or ""),
        details={"brand_id": str(me.get("brandId") or "")},
    )


def describe_error(exc: Exception, name: str) -> str:
    """A Qualtrics failure in words for a person, about the connection called `name`."""
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, errors.InvalidDatacenterError):
        return f"The data center ID of “{name}” is not valid. {DATACENTER_HELP}"
    if isinstance(exc, errors.AuthenticationError):
        return (
            f"Qualtrics refused the API token of “{name}”. Check the token, and that the data center ID matches "
            "your Qualtrics address (us1 in us1.qualtrics.com), then authorize it again."
        )
    if isinstance(exc, errors.PermissionDeniedError):
        return f"{message} (configuration “{name}”)"
    if isinstance(exc, (errors.NotFoundError, errors.ValidationError, errors.UnsafeRequestError)):
        return message
    if isinstance(exc, errors.RateLimitedError):
        return f"Qualtrics is rate limiting “{name}”. Try again in a minute."
    if isinstance(exc, errors.TransientError):
        return f"Qualtrics did not answer for “{name}”: {message} Try again shortly."
    return f"Qualtrics answered with an error for “{name}”: {message}"


# Option sources -------------------------------------------------------------------------------------


def _choices(items: list[dict[str, Any]], id_key: str) -> list[dict[str, str]]:
    found = [
        {"value": str(item[id_key]), "label": str(item.get("name") or item[id_key])}
        for item in items
        if isinstance(item, Mapping) and item.get(id_key)
    ]
    return sorted(found, key=lambda c: (c["label"].casefold(), c["value"]))


SOURCES = (
    Source("surveys", "surveys", lambda client: _choices(client.list_surveys(), "id")),
    Source("directories", "directories", lambda client: _choices(client.list_directories(), "directoryId")),
    Source(
        "mailing_lists",
        "mailing lists",
        lambda client, directory_id: _choices(client.list_mailing_lists(directory_id), "mailingListId"),
        params=("directory_id",),
        param_labels={"directory_id": "a directory"},
    ),
    Source("groups", "groups", lambda client: _choices(client.list_groups(), "id")),
)


# New Response ----------------------------------------------------------------------------------------


def topic_for(survey_id: str) -> str:
    return f"surveyengine.completedResponse.{survey_id}"


def iter_export_records(path: Path) -> Iterator[dict]:
    """Responses of a json or ndjson export, one at a time."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(1)
        fh.seek(0)
        if head == b"{" and path.suffix == ".json":
            # {"responses": [...]}: small enough per poll window; parsed whole.
            yield from json.load(fh).get("responses", [])
            return
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)


class NewResponseTrigger(Trigger):
    """Qualtrics calls the flow's URL for each completed response of the chosen survey (an event
    subscription signed with the activation's shared key); without a public URL, or when
    Qualtrics refuses the subscription, the flow polls an incremental export instead."""

    card = NEW_RESPONSE
    accepts_deliveries = True

    def check(self, options: Mapping[str, Any]) -> list[str]:
        return [] if options.get("survey_id") else ["Choose a survey on the New Response card."]

    def enable(self, ctx: TriggerContext) -> Enabled:
        survey_id = ctx.options["survey_id"]
        interval = settings.POLL_INTERVAL_SECONDS
        if not ctx.webhook_url:
            reason = "No public URL is set (PUBLIC_BASE_URL), so Qualtrics cannot call this server."
        else:
            try:
                subscription_id = ctx.client.create_event_subscription(
                    topics=topic_for(survey_id), publication_url=ctx.webhook_url, shared_key=ctx.shared_key
                )
            except ConnectorError as exc:
                reason = f"Qualtrics did not accept the webhook subscription ({exc.message})."
            else:
                return Enabled(
                    mode="webhook",
                    state={"subscription_id": subscription_id},
                    message="Qualtrics calls this flow for each completed response; a slower poll catches any missed one.",
                )
        return Enabled(mode="polling", message=f"{reason} Checking for new responses every {interval} s instead.")

    def disable(self, ctx: TriggerContext) -> None:
        subscription_id = ctx.state.get("subscription_id")
        if not subscription_id:
            return
        try:
            ctx.client.delete_event_subscription(subscription_id)
        except errors.NotFoundError:
            pass  # already gone on the Qualtrics side
        except ConnectorError as exc:
            raise ConnectorError(
                f"The Qualtrics subscription {subscription_id} could not be removed ({exc.message}); "
                "its deliveries will be ignored."
            ) from exc

    def parse(self, ctx: TriggerContext, request: InboundRequest) -> list[Event]:
        """Qualtrics posts form fields Topic, MSG (a JSON string) and HMAC (hex HMAC-SHA512 of MSG
        keyed with the subscription's shared key) [docs/qualtrics-api.md §9]."""
        fields = request.form or {}
        message = fields.get("MSG")
        topic = fields.get("Topic", "")
        supplied = fields.get("HMAC", "")
        if message is None:
            raise DeliveryRefused(400, "Missing MSG field.")
        expected = hmac.new(ctx.shared_key.encode(), message.encode(), hashlib.sha512).hexdigest()
        if not hmac.compare_digest(expected, supplied.strip().lower()):
            logger.warning("Qualtrics delivery refused: bad HMAC")
            raise DeliveryRefused(403, "Signature does not match.")
        try:
            payload = json.loads(message)
            if not isinstance(payload, dict):
                raise ValueError
        except (ValueError, RecursionError):
            raise DeliveryRefused(400, "MSG is not a JSON object.") from None
        # Refused for good: PostgreSQL could never store these, and a 503 would have Qualtrics retry forever.
        problem = json_problem(payload)
        if problem:
            raise DeliveryRefused(400, f"MSG {problem}.")
        if "\x00" in topic:
            raise DeliveryRefused(400, f"Topic {HAS_NUL}.")
        # Topic arrives prefixed with the brand id: {BrandID}.surveyengine.completedResponse.{SurveyID}
        if COMPLETED_RESPONSE not in topic:
            raise DeliveryRefused(200, "Topic ignored.")
        survey_id = payload.get("SurveyID") or topic.rsplit(".", 1)[-1]
        response_id = str(payload.get("ResponseID") or "")
        if survey_id != ctx.options.get("survey_id") or not response_id.startswith("R_"):
            raise DeliveryRefused(200, "Not this flow's survey; ignored.")
        if len(response_id) > RESPONSE_ID_MAX:
            raise DeliveryRefused(400, "ResponseID is longer than any Qualtrics response id.")
        return [Event(id=response_id, data={"response_id": response_id}, topic=topic[:300])]

    def poll(self, ctx: TriggerContext, cursor: str) -> Polled:
        """Responses recorded since the last poll: an incremental export with a continuation
        token (§6.2); the first poll starts at the activation time."""
        survey_id = ctx.options["survey_id"]
        if cursor:
            kwargs: dict[str, Any] = {"continuation_token": cursor}
        else:
            since = ctx.activated_at or ctx.now or timezone.now()
            kwargs = {"allow_continuation": True, "start_date": since.strftime("%Y-%m-%dT%H:%M:%SZ")}
        events = []
        with tempfile.TemporaryDirectory() as tmp:
            result = ctx.client.export_responses(survey_id, dest_dir=tmp, format="ndjson", poll_interval=0.5, **kwargs)
            for record in iter_export_records(result.path):
                response_id = record.get("responseId") or (record.get("values") or {}).get("_recordId")
                if response_id and len(str(response_id)) <= RESPONSE_ID_MAX:
                    events.append(Event(id=str(response_id), data={"response_id": str(response_id)}))
        return Polled(events=events, cursor=result.continuation_token or cursor)

    def event(self, ctx: TriggerContext, event_id: str) -> Event:
        """Any response of the survey can be tested with; the run reads it from Qualtrics."""
        if not event_id.startswith("R_") or len(event_id) > RESPONSE_ID_MAX:
            raise DeliveryRefused(400, "Choose a response to test with (its ID starts with R_).")
        return Event(id=event_id, data={"response_id": event_id})

    def recent(self, ctx: TriggerContext, limit: int = 20) -> list[dict[str, Any]]:
        """The latest responses of the survey (90 days), newest first, for the Test button."""
        survey_id = ctx.options.get("survey_id")
        since = ((ctx.now or timezone.now()) - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with tempfile.TemporaryDirectory() as tmp:
            result = ctx.client.export_responses(
                survey_id, dest_dir=tmp, format="json", start_date=since, poll_interval=0.5, max_wait=60
            )
            items = []
            for r in iter_export_records(result.path):
                values = r.get("values") or {}
                response_id = r.get("responseId")
                if not response_id:
                    continue
                recorded, email = values.get("recordedDate"), values.get("recipientEmail")
                items.append({
                    "id": response_id,
                    "data": {"response_id": response_id},
                    "label": " · ".join(str(p) for p in (recorded, email, response_id) if p),
                    "recorded_date": recorded,
                    "email": email,
                    "response_id": response_id,
                })
        items.sort(key=lambda r: r.get("recorded_date") or "", reverse=True)
        return items[:limit]


connector = Connector(
    key="qualtrics",
    name="Qualtrics",
    description="Surveys, responses, users, groups and XM Directory contacts through the Qualtrics v3 API.",
    credentials=CREDENTIALS,
    client=build_client,
    authorize=authorize,
    describe_error=describe_error,
    clean_credentials=clean_credentials,
    sources=SOURCES,
    output_prefixes=("q.", "ed."),
    triggers=(NewResponseTrigger(),),
    card_modules=("connectors.qualtrics.cards",),
    connection_label="configuration",
    help="Find the data center ID and API token under Account Settings → Qualtrics IDs.",
)
