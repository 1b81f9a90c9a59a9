"""`manage.py slack_standin`: serve the local Slack stand-in until Ctrl-C (for the demo)."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.slack.standin import SlackStandIn


class Command(BaseCommand):
    help = ("Runs the local Slack stand-in (incoming webhooks and the Web API, in memory). Its page at "
            "http://HOST:PORT/ lists the messages posted. Point the product at it with "
            "SLACK_API_BASE=http://HOST:PORT/api/ and OUTBOUND_ALLOWED_HOSTS=HOST:PORT.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8002, help="Port to listen on (default 8002).")

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        if not getattr(settings, "QUALTRICS_SANDBOX_ENABLED", False):
            raise CommandError("Stand-ins are disabled here (QUALTRICS_SANDBOX_ENABLED is off).")
        standin = SlackStandIn(host, port).start()
        self.stdout.write(self.style.SUCCESS("Slack stand-in ") + f"at {standin.url}/ ; incoming webhook "
                          f"{standin.webhook_url} ; Web API {standin.api_base} (Ctrl-C stops).")
        self.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            standin.stop()
