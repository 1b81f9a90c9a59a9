"""Shared set-up for the browser journeys: Debian's Chromium, a signed-in page on a live server,
and a Qualtrics configuration that talks to the sandbox."""

from __future__ import annotations

import os

import pytest

# django-cryptography adds its CRYPTOGRAPHY_* defaults to settings when first imported; imported
# inside a test that uses pytest-django's `settings` fixture (the sandbox does), they are removed
# again when that test ends and every later encryption fails. Import it once, up front.
import django_cryptography.conf  # noqa: E402, F401

# pytest-playwright runs an event loop in this thread; the ORM must still be usable from tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct-horse-battery"  # the password tests.fixtures gives every user


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}, "accept_downloads": True}


@pytest.fixture
def owner(transactional_db, team):
    return team.memberships.get(role="owner")


@pytest.fixture
def sign_in(live_server, page):
    """sign_in(user) signs `user` in through the login page and returns the page."""

    def sign_in_as(user):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/flows/")
        return page

    return sign_in_as


@pytest.fixture
def signed_in(sign_in, owner):
    """A page signed in as the team's owner."""
    return sign_in(owner.user)


@pytest.fixture
def sandbox_configuration(qualtrics_sandbox, owner):
    """A shared configuration of the team, authorized against the sandbox."""
    from accounts.configurations import configuration_create

    configuration = configuration_create(
        membership=owner,
        connector="qualtrics",
        name="Sandbox",
        credentials={"datacenter": qualtrics_sandbox.datacenter, "api_token": qualtrics_sandbox.token, "username": "sandra.box"},
        shared=True,
    )
    assert configuration.status == "authorized", configuration.status_message
    return configuration


@pytest.fixture
def sandbox_group(qualtrics_sandbox):
    """A user group in the sandbox brand (the default seed has none); returns (id, name)."""
    from connectors.qualtrics.client import QualtricsClient

    client = QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token)
    group_type = next(iter(qualtrics_sandbox.brand.group_types))
    return client.create_group(name="Promoters", type=group_type), "Promoters"


@pytest.fixture(autouse=True)
def page_errors(page):
    """Fails a journey whose page threw a script error or broke the Content Security Policy."""
    seen: list[str] = []
    page.on("pageerror", lambda error: seen.append(f"script error: {error}"))
    page.on("console", lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None)
    yield seen
    assert not seen, seen


@pytest.fixture(scope="session")
def websocket_live_server():
    """The product's server in a thread of this process, for the journeys whose pages update over
    websockets; every such journey shares this one."""
    from tests.e2e.journeys_helpers import WebsocketLiveServer

    server = WebsocketLiveServer().start()
    yield server
    server.stop()
