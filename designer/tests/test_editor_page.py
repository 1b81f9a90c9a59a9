"""The editor page loads fast without changing what it loads: every ES module is preloaded, the
initial data comes with the page as the API would answer it, static files are answered before
Django's request handling (config.static_asgi) with WhiteNoise's headers, and every page links a
favicon that is served."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Role
from tests.asgi import asgi_request

EDITOR_MODULES = Path(settings.BASE_DIR) / "static" / "js" / "editor"
# Headers a static file is answered with, by WhiteNoise behind Django's middleware or by config.static_asgi.
SAME_HEADERS = ["content-type", "cache-control", "access-control-allow-origin", "last-modified", "etag",
                "content-length", "x-content-type-options", "referrer-policy", "cross-origin-opener-policy"]


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data):
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


@pytest.fixture
def editor_page(owner_client, flow):
    response = owner_client.get(f"/flows/{flow.pk}/edit/")
    assert response.status_code == 200
    return parse(response.content.decode())


def test_the_editor_preloads_every_module_of_the_editor(editor_page, owner_client):
    preloaded = [attrs["href"] for tag, attrs in editor_page.tags if tag == "link" and attrs.get("rel") == "modulepreload"]
    expected = sorted(f"{settings.STATIC_URL}js/editor/{p.name}" for p in EDITOR_MODULES.glob("*.js"))
    assert len(expected) > 10
    assert sorted(preloaded) == expected
    for url in preloaded:
        response = owner_client.get(url)
        assert response.status_code == 200, url
        assert "javascript" in response["Content-Type"]
        assert b"".join(response.streaming_content)  # read to the end, which closes it


def test_every_module_the_editor_imports_is_preloaded(editor_page):
    preloaded = {attrs["href"] for tag, attrs in editor_page.tags if tag == "link" and attrs.get("rel") == "modulepreload"}
    for module in EDITOR_MODULES.glob("*.js"):
        for name in re.findall(r'^import .* from "\./([\w-]+\.js)";$', module.read_text(), flags=re.MULTILINE):
            assert f"{settings.STATIC_URL}js/editor/{name}" in preloaded, (module.name, name)


def test_the_editor_page_carries_its_initial_data_as_the_api_answers_it(editor_page, owner_client, flow, configuration):
    [(attrs, text)] = [(a, t) for a, t in editor_page.scripts if a.get("id") == "editor-initial"]
    assert attrs["type"] == "application/json"
    data = json.loads(text)
    assert data["catalog"] == owner_client.get("/api/catalog/").json()
    assert data["flow"] == owner_client.get(f"/api/flows/{flow.pk}/").json()
    assert data["configurations"] == owner_client.get("/api/configurations/").json()
    assert [c["name"] for c in data["configurations"]] == [configuration.name]


def test_the_editor_page_has_no_inline_script(editor_page):
    for attrs, text in editor_page.scripts:
        assert attrs.get("src") or attrs.get("type") == "application/json", attrs
        if attrs.get("src"):
            assert not text.strip()


def test_a_viewer_gets_the_same_initial_data_as_the_api_gives_a_viewer(team, member, flow, configuration):
    client = Client()
    client.force_login(member(Role.VIEWER))
    html = client.get(f"/flows/{flow.pk}/edit/").content.decode()
    [text] = [t for a, t in parse(html).scripts if a.get("id") == "editor-initial"]
    assert json.loads(text)["configurations"] == client.get("/api/configurations/").json()


def test_every_page_links_a_favicon_that_is_served(owner_client):
    anonymous = Client()
    for page_client, url in [(anonymous, "/login/"), (owner_client, "/flows/"), (owner_client, "/catalog/")]:
        response = page_client.get(url)
        assert response.status_code == 200, url
        tags = parse(response.content.decode()).tags
        icons = [attrs["href"] for tag, attrs in tags if tag == "link" and attrs.get("rel") == "icon"]
        assert icons == [f"{settings.STATIC_URL}favicon.svg"], url
        response = anonymous.get(icons[0])
        assert response.status_code == 200
        assert response["Content-Type"].startswith("image/svg+xml")
        assert b"<svg" in b"".join(response.streaming_content)


def test_the_admin_links_the_favicon(admin_client):
    tags = parse(admin_client.get("/admin/").content.decode()).tags
    assert [a["href"] for t, a in tags if t == "link" and a.get("rel") == "icon"] == [f"{settings.STATIC_URL}favicon.svg"]


async def asgi_get(path: str, *, method: str = "GET", host: bytes = b"127.0.0.1", headers=()) -> tuple[int, dict, bytes]:
    return await asgi_request(path, method=method, host=host, headers=headers)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/static/js/editor/main.js", "/static/css/app.css", "/static/favicon.svg"])
async def test_static_files_are_answered_before_django_with_whitenoises_headers(path):
    response = Client().get(path)
    expected = {name: response.headers[name] for name in SAME_HEADERS if name in response.headers}
    expected_body = b"".join(response.streaming_content)
    assert "etag" in expected and "cache-control" in expected and "x-content-type-options" in expected

    status, headers, body = await asgi_get(path)
    assert status == 200
    assert {name: headers[name] for name in SAME_HEADERS if name in headers} == expected
    assert body == expected_body
    assert "x-frame-options" not in headers and "vary" not in headers  # not Django's answer

    status, headers, body = await asgi_get(path, method="HEAD")
    assert (status, body, headers["content-length"]) == (200, b"", expected["content-length"])
    status, headers, body = await asgi_get(path, headers=[(b"if-none-match", expected["etag"].encode())])
    assert (status, body) == (304, b"")
    status, headers, body = await asgi_get(path, headers=[(b"range", b"bytes=0-9")])
    assert (status, body) == (206, expected_body[:10])


@pytest.mark.asyncio
async def test_a_large_static_file_is_sent_whole():
    from django.contrib.staticfiles import finders

    path = "/static/admin/js/vendor/jquery/jquery.js"
    on_disk = Path(finders.find("admin/js/vendor/jquery/jquery.js")).read_bytes()
    assert len(on_disk) > 200_000
    status, headers, body = await asgi_get(path)
    assert status == 200 and body == on_disk and headers["content-length"] == str(len(on_disk))


@pytest.mark.asyncio
@pytest.mark.django_db
async def test_what_is_not_a_static_file_request_goes_to_django():
    status, headers, _ = await asgi_get("/static/js/editor/missing.js")
    assert status == 404 and "x-frame-options" in headers  # Django's answer
    status, headers, _ = await asgi_get("/static/css/app.css", method="POST")
    assert status == 405  # WhiteNoise behind Django: only GET and HEAD are answered here
