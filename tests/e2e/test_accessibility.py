"""Every kind of page, checked by axe-core in light and dark mode: no serious or critical finding.
The list pages are also checked at a phone's width (390 px), where nothing may scroll sideways
but a table inside its own box, and the editor at the narrowest window it supports (768 px)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts import services as account_services
from accounts.models import Membership, Role
from alerts.models import FlowAlert
from designer import services
from designer.models import Delivery, DeliverySource, Run, RunStatus, RunStep
from tests.fixtures import newsletter_definition

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")
PHONE = {"width": 390, "height": 844}
NARROW_EDITOR = {"width": 768, "height": 900}
# Set to a folder to keep a screenshot of every view checked (to look at dark mode, say).
SCREENSHOTS = os.environ.get("QFLOWS_A11Y_SCREENSHOTS")


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """axe is injected as a script tag, which the pages' Content Security Policy would refuse."""
    return {**browser_context_args, "bypass_csp": True}


@dataclass
class Pages:
    flow: int
    run: int
    # A run in each state with its own controls: waiting (until a time), needing attention
    # (resume or resend), cancelled, and running with a cancel asked for.
    runs: dict[str, int]


@pytest.fixture
def pages(owner, team, make_user, qualtrics_sandbox, sandbox_configuration) -> Pages:
    """A team with a saved flow, a finished run with a failed step, runs in the other states, a
    second member, an invitation, a configuration, alerts whose last sending failed and a response
    in the sandbox to load as the sample: enough for every page to show its tables and forms."""
    editor = make_user("grace")
    editor.email = "grace@example.com"
    editor.save()
    Membership.objects.create(team=team, user=editor, role=Role.EDITOR)
    account_services.invitation_create(team=team, email="ada@example.com", role=Role.VIEWER, invited_by=owner.user)

    definition = newsletter_definition(sandbox_configuration.pk, qualtrics_sandbox)
    flow = services.flow_create(membership=owner, name="Welcome satisfied customers")
    services.flow_save(membership=owner, flow=flow, definition=definition, base_version=0)
    services.flow_publish(membership=owner, flow=flow)
    flow.refresh_from_db()
    delivery = Delivery.objects.create(
        flow=flow, event_id="R_a11y", payload={"response_id": "R_a11y"}, source=DeliverySource.TEST
    )
    run = Run.objects.create(
        flow=flow,
        team=team,
        version=flow.versions.get(number=1),
        delivery=delivery,
        status=RunStatus.FAILED,
        error="Create Contact in Mailing List: the mailing list was not found.",
        started_at=timezone.now() - timedelta(seconds=1),
        finished_at=timezone.now(),
    )
    RunStep.objects.create(
        run=run,
        position=0,
        step_id="trigger",
        card="qualtrics.new_response",
        name="New Response",
        status=RunStatus.SUCCEEDED,
        outputs={"recipient_email": "pat@example.com"},
        duration_ms=120,
    )
    RunStep.objects.create(
        run=run,
        position=1,
        step_id="step_1",
        card="qualtrics.create_contact_in_mailing_list",
        name="Create Contact in Mailing List",
        status=RunStatus.FAILED,
        inputs={"email": "pat@example.com"},
        error="The mailing list was not found.",
        attempts=2,
        attempt_log=[
            {"at": "2025-01-01T10:00:00Z", "method": "POST", "path": "/API/v3/contacts", "status": 503, "waited_s": 0, "duration_ms": 300},
            {"at": "2025-01-01T10:00:02Z", "method": "POST", "path": "/API/v3/contacts", "status": 404, "waited_s": 2, "duration_ms": 310},
        ],
        duration_ms=720,
    )
    alert = FlowAlert.objects.create(
        flow=flow, emails=["ops@example.com"], last_sent_at=timezone.now(), last_count=2,
        last_error="The mail server refused the message.",
    )
    alert.members.add(editor)
    qualtrics_sandbox.set_export_polls(1)
    qualtrics_sandbox.record_response(values={"recipientEmail": "pat@example.com"}, notify=False)
    return Pages(flow=flow.pk, run=run.pk, runs=other_runs(flow, team, delivery))


def other_runs(flow, team, delivery) -> dict[str, int]:
    now = timezone.now()
    version = flow.versions.get(number=1)

    def run(status, *, step_status=None, step_error="", **fields) -> int:
        made = Run.objects.create(flow=flow, team=team, version=version, delivery=delivery, status=status,
                                  started_at=now - timedelta(seconds=5), **fields)
        RunStep.objects.create(run=made, position=0, step_id="trigger", card="qualtrics.new_response",
                               name="New Response", status=RunStatus.SUCCEEDED, outputs={"recipient_email": "pat@example.com"})
        if step_status:
            RunStep.objects.create(run=made, position=1, step_id="step_1", card="qualtrics.create_contact_in_mailing_list",
                                   name="Create Contact in Mailing List", status=step_status, error=step_error,
                                   inputs={"email": "pat@example.com"})
        return made.pk

    return {
        "waiting": run(RunStatus.WAITING, resume_at=now + timedelta(minutes=5), wait_message="Qualtrics asked to wait",
                       waited_seconds=30),
        "attention": run(RunStatus.ATTENTION, step_status=RunStatus.ATTENTION,
                         error="Create Contact in Mailing List: no answer came; the contact may have been created.",
                         step_error="No answer came; the contact may have been created."),
        "cancelled": run(RunStatus.CANCELLED, step_status=RunStatus.CANCELLED, error="Cancelled by ada.",
                         finished_at=now),
        "cancelling": run(RunStatus.RUNNING, current_step="step_1", progress=40, cancel_requested_at=now),
    }


def axe_findings(page: Page) -> list[dict]:
    """The violations axe-core finds on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary})),
            }));
        }"""
    )


def readable(findings: list[dict]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"[{finding['impact']}] {finding['id']}: {finding['help']}")
        for node in finding["nodes"][:8]:
            lines.append(f"    at {node['target']}")
            lines.append(f"       {node['html'][:200]}")
            for detail in (node["summary"] or "").splitlines():
                lines.append(f"       {detail}")
        if len(finding["nodes"]) > 8:
            lines.append(f"    … and {len(finding['nodes']) - 8} more")
    return "\n".join(lines)


def sideways_overflow(page: Page) -> tuple[int, list[str]]:
    """How many pixels the page scrolls sideways (0 when it fits the window), and the outermost
    elements that reach past its right edge."""
    return page.evaluate(
        """() => {
            const root = document.scrollingElement, edge = root.clientWidth;
            const wide = [...document.body.querySelectorAll("*")].filter((e) => e.getBoundingClientRect().right > edge + 0.5);
            const outermost = wide.filter((e) => !wide.includes(e.parentElement));
            const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + [...e.classList].map((c) => "." + c).join("");
            return [root.scrollWidth - edge, outermost.slice(0, 5).map((e) => `${name(e)} reaches ${Math.round(e.getBoundingClientRect().right)} px`)];
        }"""
    )


def check(page: Page, url: str, *, ready: str | None = None, widths: tuple[dict, ...] = (), overflow: bool = False) -> None:
    """Opens `url` in light and dark mode (and at each of `widths`), runs axe each time and fails
    with every serious or critical finding, readably, for all the views at once."""
    problems = problems_on(page, url, ready=ready, widths=widths, overflow=overflow)
    assert not problems, "\n\n".join(problems)


def problems_on(page: Page, url: str, *, ready: str | None = None, widths: tuple[dict, ...] = (), overflow: bool = False) -> list[str]:
    """What `check` finds on `url`: every collapsed <details> is opened first, so what it hides is
    checked too, and anything the page loads from another host (a CDN, say) is a problem."""
    problems = []
    host = urlsplit(url).netloc
    elsewhere: list[str] = []

    def note(request) -> None:
        if urlsplit(request.url).scheme in ("http", "https") and urlsplit(request.url).netloc != host:
            elsewhere.append(request.url)

    page.on("request", note)
    views = [("light", None), ("dark", None)] + [("light", w) for w in widths] + [("dark", w) for w in widths]
    for scheme, size in views:
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size(size or {"width": 1400, "height": 1000})
        page.goto(url)
        if ready:
            expect(page.locator(ready)).to_be_attached()
        page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        name = f"{url} in {scheme} mode" + (f" at {size['width']} px" if size else "")
        if SCREENSHOTS:
            slug = re.sub(r"[^a-z0-9]+", "-", f"{url.split('/', 3)[-1]}-{scheme}-{size['width'] if size else 1400}".lower())
            page.screenshot(path=str(Path(SCREENSHOTS) / f"{slug.strip('-')}.png"), full_page=True)
        blocking = [f for f in axe_findings(page) if f["impact"] in BLOCKING]
        if blocking:
            problems.append(f"{name}:\n{readable(blocking)}")
        if size and overflow:
            extra, culprits = sideways_overflow(page)
            if extra > 0:
                problems.append(f"{name}: the page scrolls {extra} px sideways ({'; '.join(culprits)})")
    page.remove_listener("request", note)
    if elsewhere:
        problems.append(f"{url} loads from another host: {', '.join(sorted(set(elsewhere)))}")
    return problems


LIST_PAGES = {
    "flows": "/flows/",
    "runs": "/runs/",
    "configurations": "/configurations/",
    "team": "/team/",
    "dashboard": "/dashboard/",
}


@pytest.mark.parametrize("name", LIST_PAGES)
def test_list_pages_are_accessible_in_light_and_dark_mode_and_fit_a_phone(name, pages, signed_in, live_server):
    check(signed_in, live_server.url + LIST_PAGES[name], widths=(PHONE,), overflow=True)


def test_the_run_page_is_accessible_and_fits_a_phone(pages, signed_in, live_server):
    check(signed_in, f"{live_server.url}/runs/{pages.run}/", widths=(PHONE,), overflow=True)


def test_runs_waiting_needing_attention_cancelled_and_being_cancelled_are_accessible(pages, signed_in, live_server):
    shown = {"waiting": "Waiting", "attention": "Needs attention", "cancelled": "Cancelled", "cancelling": "Running"}
    problems = []
    for state, run in pages.runs.items():
        problems += problems_on(signed_in, f"{live_server.url}/runs/{run}/", widths=(PHONE,), overflow=True)
        expect(signed_in.locator("#run-status")).to_have_text(shown[state])
    assert not problems, "\n\n".join(problems)


def test_the_flow_status_page_with_its_alerts_is_accessible(pages, signed_in, live_server):
    check(signed_in, f"{live_server.url}/flows/{pages.flow}/status/", widths=(PHONE,), overflow=True)
    expect(signed_in.locator("#alerts-error")).to_contain_text("The mail server refused the message.")


def test_the_editor_is_accessible_from_768_px(pages, signed_in, live_server):
    check(signed_in, f"{live_server.url}/flows/{pages.flow}/edit/", ready="#editor.ready #card-step_1", widths=(NARROW_EDITOR,), overflow=True)


def test_the_editor_menus_panels_and_dialogs_are_accessible(pages, signed_in, live_server):
    """What opens over the editor: the versions panel, the map-output listbox, the suggestions of
    a typed "{{", the test dialog, and
    what a step test shows on a card: the event picker, the sample loaded, a step test not run."""
    page = signed_in
    problems = []

    def look(what: str, scheme: str) -> None:
        blocking = [f for f in axe_findings(page) if f["impact"] in BLOCKING]
        if blocking:
            problems.append(f"the editor with {what} open in {scheme} mode:\n{readable(blocking)}")

    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{live_server.url}/flows/{pages.flow}/edit/")
        expect(page.locator("#editor.ready #card-step_1")).to_be_attached()
        page.get_by_role("button", name="Versions").click()
        expect(page.locator("#versions-panel")).to_be_visible()
        look("the versions panel", scheme)
        page.get_by_role("button", name="Map output into First Name").click()
        expect(page.get_by_role("listbox")).to_be_visible()
        look("the map-output listbox", scheme)
        page.keyboard.press("Escape")
        expect(page.get_by_role("listbox")).to_have_count(0)
        first_name = page.locator("#card-step_1 .field[data-field='first_name'] input")
        first_name.press_sequentially("{{")
        expect(page.get_by_role("listbox")).to_be_visible()
        look("the placeholder suggestions", scheme)
        page.keyboard.press("Escape")
        first_name.fill("")
        page.get_by_role("button", name="Test", exact=True).click()
        dialog = page.get_by_role("dialog", name="Test this flow")
        expect(dialog.get_by_label("Event").locator("option").first).not_to_have_text(re.compile("Loading"))
        look("the test dialog", scheme)
        dialog.get_by_role("button", name="Cancel").click()

        trigger, step = page.locator("#card-trigger"), page.locator("#card-step_1")
        trigger.get_by_role("button", name="Choose event as the sample for New Response").click()
        expect(trigger.get_by_label("Or paste the event's data (JSON)")).to_be_visible()
        look("the sample event picker", scheme)
        trigger.get_by_role("button", name="Load sample event for New Response").click()
        expect(trigger.locator(".step-test-result.succeeded")).to_contain_text("Sample event R_")
        expect(trigger.locator(".chip-sample").first).to_be_visible()
        page.once("dialog", lambda asked: asked.dismiss())  # what the step would change is asked first
        step.get_by_role("button", name="Test step: Create Contact in Mailing List").click()
        expect(step.locator(".step-test-result.failed")).to_contain_text("Not tested")
        look("a sample loaded and a step test turned down", scheme)
    assert not problems, "\n\n".join(problems)


def test_the_catalog_is_accessible(signed_in, live_server):
    check(signed_in, f"{live_server.url}/catalog/", widths=(PHONE,), overflow=True)


def test_the_configuration_form_is_accessible_and_its_help_is_tied_to_its_fields(pages, signed_in, live_server):
    url = f"{live_server.url}/configurations/new/?connector=qualtrics"
    check(signed_in, url, widths=(PHONE,), overflow=True)
    token = signed_in.get_by_label("API Token")
    expect(token).to_have_accessible_description(text := signed_in.locator("#id_api_token_help").inner_text().strip())
    assert text


def test_the_error_pages_are_accessible(transactional_db, settings, sign_in, member, live_server):
    """403, 404 and 500 as a viewer sees them, with the server's own error handlers."""
    settings.ROOT_URLCONF = "tests.security.error_urls"  # adds /flows/crash/, which fails
    page = sign_in(member(Role.VIEWER))
    for address, heading in (
        ("/configurations/new/", "You cannot open this page"),
        ("/flows/999999/edit/", "Page not found"),
        ("/flows/crash/", "Something went wrong"),
    ):
        check(page, live_server.url + address, widths=(PHONE,), overflow=True)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)


def test_sign_in_and_admin_sign_in_are_accessible(page, live_server, db):
    check(page, f"{live_server.url}/login/", widths=(PHONE,), overflow=True)
    check(page, f"{live_server.url}/admin/login/", widths=(PHONE,), overflow=True)


def test_the_sandbox_pages_are_accessible(page, qualtrics_sandbox):
    """The pages the bundled sandbox serves to record a response and see its deliveries."""
    response = qualtrics_sandbox.record_response(values={"recipientEmail": "pat@example.com"}, notify=False)
    problems = []
    for path in ("/", f"/surveys/{qualtrics_sandbox.survey_id}", f"/responses/{response}", "/deliveries"):
        problems += problems_on(page, qualtrics_sandbox.url + path, widths=(PHONE,), overflow=True)
    assert not problems, "\n\n".join(problems)
