"""The Teams connector and its Post Message card against the local workflow-webhook stand-in."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.http import MaybeAppliedError, RetryLaterError
from connectors.outbound import OutboundRefused
from connectors.specs import CardInputError, CredentialsError, RunContext
from connectors.teams import standin as teams_standin
from connectors.teams.cards import ADAPTIVE, CARD_KEY
from connectors.teams.connector import TeamsError, authorize, build_client, clean_credentials
from connectors.teams.standin import TeamsStandIn

OUTPUTS = {"trigger": {"name": "Ada \"A\" Lovelace", "score": 9}}


@pytest.fixture(scope="module")
def standin_server():
    with TeamsStandIn() as server:
        yield server


@pytest.fixture
def teams(standin_server, settings):
    standin_server.reset()
    settings.OUTBOUND_ALLOWED_HOSTS = [standin_server.host_port]
    return standin_server


def client_for(url):
    return build_client(clean_credentials({"webhook_url": url}), backoff_base=0.01, backoff_max=0.05)


def post(client, options=None, **inputs):
    ctx = RunContext(client=client, resolve=lambda ref: OUTPUTS[ref.split(".")[0]][ref.split(".")[1]])
    return registry.get(CARD_KEY).run(ctx, options or {}, inputs)


def test_text_is_sent_as_an_adaptive_card_in_the_message_envelope(teams):
    client = client_for(teams.webhook_url)
    out = post(client, {"format": "text"}, title="New response", text="**{{trigger.name}}** scored {{trigger.score}}")
    assert out == {"status_code": 202}
    [message] = teams.messages
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == ADAPTIVE and attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert [block["text"] for block in card["body"]] == ["New response", '**Ada "A" Lovelace** scored 9']


def test_an_adaptive_card_is_filled_in_and_wrapped(teams):
    card = ('{"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "Hi {{trigger.name}}"}, '
            '{"type": "FactSet", "facts": [{"title": "Score", "value": "{{trigger.score}}"}]}]}')
    post(client_for(teams.webhook_url), {"format": "adaptive_card"}, card=card)
    content = teams.messages[0]["attachments"][0]["content"]
    assert content["body"][0]["text"] == 'Hi Ada "A" Lovelace' and content["body"][1]["facts"][0]["value"] == 9
    assert content["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"


def test_a_whole_envelope_is_sent_as_it_is(teams):
    whole = {"type": "message", "attachments": [{"contentType": ADAPTIVE, "content": {"type": "AdaptiveCard",
                                                                                       "version": "1.5", "body": []}}]}
    post(client_for(teams.webhook_url), {"format": "adaptive_card"}, card=whole)
    assert teams.messages == [whole]


def test_the_connection_is_named_by_its_host_only(teams):
    account = authorize(client_for(teams.webhook_url))
    assert account.name == f"Teams webhook at {teams.host}"
    assert teams_standin.SIGNATURE not in account.name + account.id + str(account.details)
    assert teams.received == []  # authorizing posts nothing


@pytest.mark.parametrize("url", [
    "http://prod-01.westus.logic.azure.com/workflows/x",
    "https://evil.example/workflows/x",
    "not a url",
    "",
])
def test_urls_that_are_not_teams_webhooks_are_refused(settings, url):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(CredentialsError) as caught:
        clean_credentials({"webhook_url": url})
    assert caught.value.field == "webhook_url"


def test_real_webhook_hosts_have_the_right_shape(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    for url in ("https://prod-12.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x",
                "https://default0a.12.environment.api.powerplatform.com/powerautomate/automations/direct/x",
                "https://contoso.webhook.office.com/webhookb2/x/IncomingWebhook/y/z"):
        assert clean_credentials({"webhook_url": url})["webhook_url"] == url


@pytest.mark.parametrize("status, message", [
    (400, "refused the message"),
    (401, "refused the webhook URL"),
    (404, "does not know this webhook URL"),
])
def test_refusals_fail_the_step_in_words_without_retrying(teams, status, message):
    teams.fail_next(status, times=3)
    with pytest.raises(TeamsError, match=message) as caught:
        post(client_for(teams.webhook_url), text="x")
    assert not caught.value.retryable and len(teams.received) == 1


def test_a_wrong_signature_is_refused(teams):
    with pytest.raises(TeamsError, match="401"):
        post(client_for(teams.webhook_url.replace(teams_standin.SIGNATURE, "wrong")), text="x")


def test_a_429_is_waited_out_and_a_long_one_left_to_the_engine(teams):
    teams.fail_next(429, retry_after=0.2)
    assert post(client_for(teams.webhook_url), text="x") == {"status_code": 202}
    assert len(teams.received) == 2 and len(teams.messages) == 1
    teams.fail_next(429, retry_after=300)
    with pytest.raises(RetryLaterError) as caught:
        post(client_for(teams.webhook_url), text="x")
    assert caught.value.retryable and len(teams.messages) == 1


def test_a_5xx_is_not_sent_again(teams):
    teams.fail_next(502, times=3)
    with pytest.raises(MaybeAppliedError):
        post(client_for(teams.webhook_url), text="x")
    assert len(teams.received) == 1


@pytest.mark.parametrize("options, inputs, message", [
    ({"format": "text"}, {"text": " "}, "Text"),
    ({"format": "adaptive_card"}, {"card": ""}, "give the card"),
    ({"format": "adaptive_card"}, {"card": "[1]"}, "JSON object"),
    ({"format": "adaptive_card"}, {"card": '{"type": "Other"}'}, "AdaptiveCard"),
    ({"format": "adaptive_card"}, {"card": '{"type": '}, "not valid JSON"),
    ({"format": "text"}, {"text": "x" * 25_000}, "at most"),
])
def test_inputs_it_cannot_use_are_refused_before_posting(teams, options, inputs, message):
    with pytest.raises(CardInputError, match=message):
        post(client_for(teams.webhook_url), options, **inputs)
    assert teams.received == []


def test_a_webhook_url_on_a_private_address_is_refused_when_not_allowed(teams, settings):
    client = client_for(teams.webhook_url)
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(OutboundRefused):
        post(client, text="x")
    assert teams.received == []
