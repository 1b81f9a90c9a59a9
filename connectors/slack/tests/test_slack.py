"""The Slack connector and its Post Message card against the local Slack stand-in, over HTTP."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.http import ConnectorError, RetryLaterError
from connectors.outbound import OutboundRefused
from connectors.slack import standin as slack_standin
from connectors.slack.cards import CARD_KEY
from connectors.slack.connector import SlackError, authorize, build_client, clean_credentials, connector
from connectors.slack.standin import SlackStandIn
from connectors.specs import CardInputError, CredentialsError, RunContext

OUTPUTS = {"trigger": {"name": "Ada", "score": 9}}


@pytest.fixture(scope="module")
def standin_server():
    with SlackStandIn() as server:
        yield server


@pytest.fixture
def slack(standin_server, settings):
    standin_server.reset()
    settings.SLACK_API_BASE = standin_server.api_base
    settings.OUTBOUND_ALLOWED_HOSTS = [standin_server.host_port]
    return standin_server


def client_for(credentials):
    return build_client(clean_credentials(credentials), backoff_base=0.01, backoff_max=0.05)


def post(client, options=None, **inputs):
    ctx = RunContext(client=client, resolve=lambda ref: OUTPUTS[ref.split(".")[0]][ref.split(".")[1]])
    return registry.get(CARD_KEY).run(ctx, options or {}, inputs)


def test_a_webhook_connection_is_named_without_its_secret_and_posts_to_its_channel(slack):
    client = client_for({"webhook_url": slack.webhook_url, "bot_token": ""})
    account = authorize(client)
    assert account.name == "Incoming webhook T0FLOWS01/B0FLOWS01"
    assert slack_standin.WEBHOOK_SECRET not in account.name + account.id + str(account.details)
    out = post(client, text="*{{trigger.name}}* scored {{trigger.score}}",
               blocks='[{"type": "section", "text": {"type": "mrkdwn", "text": "Hi {{trigger.name}}"}}]')
    assert out == {"channel": "", "ts": ""}
    [message] = slack.messages
    assert message["via"] == "webhook" and message["channel"] == "C0ALERTS"
    assert message["text"] == "*Ada* scored 9"
    assert message["blocks"] == [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi Ada"}}]


@pytest.mark.parametrize("credentials, field, message", [
    ({"webhook_url": "", "bot_token": ""}, "webhook_url", "Give an incoming webhook URL or a bot token"),
    ({"webhook_url": "https://hooks.slack.com/services/T/B/x", "bot_token": "xoxb-1"}, "bot_token", "not both"),
    ({"webhook_url": "http://hooks.slack.com/services/T/B/x"}, "webhook_url", "starts with https://hooks.slack.com"),
    ({"webhook_url": "https://evil.example/services/T/B/x"}, "webhook_url", "starts with https://hooks.slack.com"),
    ({"webhook_url": "https://hooks.slack.com/other"}, "webhook_url", "looks like"),
    ({"bot_token": "secret"}, "bot_token", "starts with xoxb-"),
])
def test_credentials_are_checked_for_their_shape(slack, credentials, field, message):
    with pytest.raises(CredentialsError, match=message) as caught:
        clean_credentials({"webhook_url": "", "bot_token": "", **credentials})
    assert caught.value.field == field


def test_a_real_slack_webhook_url_has_the_right_shape(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    url = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    assert clean_credentials({"webhook_url": url, "bot_token": ""})["webhook_url"] == url


def test_a_bot_token_is_proven_with_auth_test(slack):
    account = authorize(client_for({"webhook_url": "", "bot_token": slack_standin.TOKEN}))
    assert account.name == "flowsbot in Flows Test Team" and account.id == "T0FLOWS01/U0FLOWS01"
    with pytest.raises(SlackError, match="invalid_auth") as caught:
        authorize(client_for({"webhook_url": "", "bot_token": "xoxb-0000-wrong"}))
    assert not caught.value.retryable
    assert slack.received[-1]["headers"]["authorization"] == "Bearer xoxb-0000-wrong"


def test_the_channel_picker_lists_every_page_without_archived_channels(slack):
    client = client_for({"webhook_url": "", "bot_token": slack_standin.TOKEN})
    choices = connector.source("channels").load(client)
    assert choices == [
        {"value": "C0ALERTS", "label": "#alerts"},
        {"value": "C0GENERAL", "label": "#general"},
        {"value": "G0PRIVATE", "label": "🔒 leads"},
        {"value": "C0OUTSIDE", "label": "#random"},
    ]
    assert len([r for r in slack.received if r["path"] == "/api/conversations.list"]) == 2
    with pytest.raises(ConnectorError, match="only for a bot token"):
        connector.source("channels").load(client_for({"webhook_url": slack.webhook_url, "bot_token": ""}))


def test_a_bot_posts_to_the_chosen_channel_and_in_a_thread(slack):
    client = client_for({"webhook_url": "", "bot_token": slack_standin.TOKEN})
    first = post(client, {"channel": "C0GENERAL"}, text="Hello {{trigger.name}}")
    assert first["channel"] == "C0GENERAL" and first["ts"]
    reply = post(client, {"channel": "C0GENERAL"}, text="More", thread_ts=first["ts"])
    assert reply["ts"] != first["ts"]
    assert [m["text"] for m in slack.messages] == ["Hello Ada", "More"]
    assert slack.messages[1]["thread_ts"] == first["ts"] and slack.messages[0]["payload"]["mrkdwn"] is True


@pytest.mark.parametrize("channel, message", [
    ("C0NOPE", "cannot find that channel"),
    ("C0OUTSIDE", "not a member of that channel"),
    ("C0OLD", "archived"),
])
def test_slack_refusals_fail_the_step_in_words(slack, channel, message):
    client = client_for({"webhook_url": "", "bot_token": slack_standin.TOKEN})
    with pytest.raises(SlackError, match=message) as caught:
        post(client, {"channel": channel}, text="x")
    assert not caught.value.retryable and slack.messages == []


def test_a_429_is_waited_out_and_the_message_posted_once(slack):
    client = client_for({"webhook_url": "", "bot_token": slack_standin.TOKEN})
    slack.throttle("chat.postMessage", retry_after=0.2)
    assert post(client, {"channel": "C0ALERTS"}, text="x")["ts"]
    assert len([r for r in slack.received if r["path"] == "/api/chat.postMessage"]) == 2
    assert len(slack.messages) == 1


def test_a_long_retry_after_is_left_to_the_engine_as_a_retryable_error(slack):
    client = client_for({"webhook_url": slack.webhook_url, "bot_token": ""})
    slack.throttle("webhook", retry_after=120)
    with pytest.raises(RetryLaterError) as caught:
        post(client, text="x")
    assert caught.value.retryable and caught.value.retry_after == 120
    assert "rate limiting" in caught.value.message and slack.messages == []


def test_a_removed_webhook_and_an_archived_channel_are_named(slack):
    gone = client_for({"webhook_url": slack.url + "/services/T0FLOWS01/B0FLOWS01/removed", "bot_token": ""})
    with pytest.raises(SlackError, match="does not know this webhook URL"):
        post(gone, text="x")
    slack.archive("C0ALERTS")
    with pytest.raises(SlackError, match="archived"):
        post(client_for({"webhook_url": slack.webhook_url, "bot_token": ""}), text="x")


def test_inputs_it_cannot_use_are_refused_before_posting(slack):
    bot = client_for({"webhook_url": "", "bot_token": slack_standin.TOKEN})
    hook = client_for({"webhook_url": slack.webhook_url, "bot_token": ""})
    with pytest.raises(CardInputError, match="Channel"):
        post(bot, text="x")
    with pytest.raises(CardInputError, match="Text"):
        post(bot, {"channel": "C0GENERAL"}, text=" ")
    with pytest.raises(CardInputError, match="Blocks"):
        post(bot, {"channel": "C0GENERAL"}, blocks='{"type": "section"}')
    with pytest.raises(CardInputError, match="thread"):
        post(hook, text="x", thread_ts="1.2")
    assert slack.received == []


def test_a_webhook_url_on_a_private_address_is_refused_when_not_allowed(slack, settings):
    client = client_for({"webhook_url": slack.webhook_url, "bot_token": ""})
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(OutboundRefused, match="loopback"):
        post(client, text="x")
    assert slack.received == []
