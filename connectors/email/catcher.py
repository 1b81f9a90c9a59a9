"""A local mail catcher for the demo: an SMTP server (aiosmtpd) that keeps every message in
memory, and a small web page listing them, newest first.

    catcher = MailCatcher(smtp_port=8025, web_port=8026).start()
    catcher.messages   # email.message.EmailMessage objects
"""

from __future__ import annotations

import email
import threading
from email import policy
from email.message import EmailMessage
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Inbox:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.catcher.lock:
            self.catcher.messages.append(message)
            self.catcher.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


class _Page(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        catcher: MailCatcher = self.server.catcher
        with catcher.lock:
            pairs = list(zip(catcher.messages, catcher.recipients, strict=True))
        items = "".join(
            f"<li><h2>{escape(str(m['Subject'] or '(no subject)'))}</h2><p><small>From {escape(str(m['From']))} to "
            f"{escape(', '.join(to))} · {escape(str(m['Date'] or ''))}</small></p><pre>{escape(_body(m))}</pre></li>"
            for m, to in reversed(pairs)
        ) or "<li>No mail yet.</li>"
        page = (f"<!doctype html><meta charset=utf-8><title>Mail catcher</title><h1>Mail catcher</h1>"
                f"<p>Every email sent to the SMTP server on port {catcher.smtp_port}; nothing leaves this machine. "
                f"Reload to see new mail.</p><ol>{items}</ol>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        return


class MailCatcher:
    def __init__(self, host: str = "127.0.0.1", smtp_port: int = 8025, web_port: int = 8026) -> None:
        self.host, self.smtp_port, self.web_port = host, smtp_port, web_port
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._controller = None
        self._web: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.web_port}/"

    def start(self) -> MailCatcher:
        from aiosmtpd.controller import Controller

        self._controller = Controller(_Inbox(self), hostname=self.host, port=self.smtp_port)
        self._controller.start()
        self._web = ThreadingHTTPServer((self.host, self.web_port), _Page)
        self._web.daemon_threads = True
        self._web.catcher = self  # type: ignore[attr-defined]
        self.web_port = self._web.server_address[1]
        threading.Thread(target=self._web.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._web is not None:
            self._web.shutdown()
            self._web.server_close()
        if self._controller is not None:
            self._controller.stop()
