"""Oversized request bodies are refused with 413 before the product reads or stores them."""

from __future__ import annotations

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings

pytestmark = pytest.mark.asyncio


def scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }


async def answer(communicator: ApplicationCommunicator) -> tuple[int, dict]:
    start = await communicator.receive_output(5)
    body = b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return start["status"], json.loads(body)


async def test_a_declared_length_over_the_limit_is_refused_before_reading_the_body():
    from config.asgi import application

    length = settings.MAX_REQUEST_BODY_BYTES + 1
    communicator = ApplicationCommunicator(application, scope("/api/files/", [
        (b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", str(length).encode())]))
    # No body is sent at all: the answer comes from the header alone.
    status, data = await answer(communicator)
    assert status == 413
    assert data["detail"].startswith("The request is larger than 6 MB, the most this server accepts")
    assert "at most 5 MB" in data["detail"]


async def test_a_body_without_a_length_is_cut_off_once_it_passes_the_limit():
    from config.asgi import application

    communicator = ApplicationCommunicator(application, scope("/api/flows/import/", [
        (b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]))
    chunk = b" " * (1024 * 1024)
    sent = 0
    while sent <= settings.MAX_REQUEST_BODY_BYTES:
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": True})
        sent += len(chunk)
    status, data = await answer(communicator)
    assert status == 413
    assert "larger than 6 MB" in data["detail"]


@pytest.mark.django_db(transaction=True)
async def test_a_declared_length_within_the_limit_reaches_the_product():
    from config.asgi import application

    communicator = ApplicationCommunicator(application, scope("/hooks/qualtrics/1/not-a-secret/", [
        (b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"5")]))
    await communicator.send_input({"type": "http.request", "body": b"a=b&c", "more_body": False})
    status, _ = await answer(communicator)
    assert status != 413
