"""`manage.py qualtrics_sandbox`: serve the Qualtrics sandbox until Ctrl-C."""

from __future__ import annotations

from argparse import RawDescriptionHelpFormatter
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter

from connectors.qualtrics.sandbox.seed import DEMO_NO_API_TOKEN, DEMO_NOT_ADMIN_TOKEN, DEMO_TOKEN, SEEDS
from connectors.qualtrics.sandbox.server import Sandbox


class _HelpFormatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    pass


class Command(BaseCommand):
    help = f"""Runs a local Qualtrics v3 API sandbox (in memory; nothing is saved).

API:      http://HOST:PORT/{{datacenter}}/API/v3/
Control:  http://HOST:PORT/_sandbox/  (GET lists faults, latency, request log, deliveries)

With --seed demo (the default) it holds a brand with three surveys and their responses, a
directory with contacts, two mailing lists, users and groups. Connect with:

  data center  sandbox1
  API token    {DEMO_TOKEN}
               ({DEMO_NO_API_TOKEN} has no API access,
                {DEMO_NOT_ADMIN_TOKEN} is not a brand administrator)

Point the product at it with QUALTRICS_API_BASE=http://127.0.0.1:PORT/{{datacenter}}/API/v3/
Refuses to run when QUALTRICS_SANDBOX_ENABLED is off (production).
"""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Keep the help's line breaks so the tokens can be copied whole.
        return super().create_parser(prog_name, subcommand, formatter_class=_HelpFormatter, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8001, help="Port to listen on (default 8001; 0 picks one).")
        parser.add_argument("--seed", choices=SEEDS, default="demo", help="Data to start with (default demo).")
        parser.add_argument("--page-size", type=int, default=100, help="Items per page of list calls (default 100).")
        parser.add_argument(
            "--export-polls", type=int, default=3, help="Progress polls before an export completes (default 3)."
        )
        parser.add_argument("--verbose", action="store_true", help="Log every request.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "QUALTRICS_SANDBOX_ENABLED", False):
            raise CommandError("The Qualtrics sandbox is disabled here (QUALTRICS_SANDBOX_ENABLED is off).")
        sandbox = Sandbox(
            options["host"],
            options["port"],
            seed=options["seed"],
            page_size=options["page_size"],
            export_polls=options["export_polls"],
            verbose=options["verbose"],
        )
        info = sandbox.info

        def ready() -> None:
            self.stdout.write(
                self.style.SUCCESS("Qualtrics sandbox ")
                + f"(seed '{info.seed}'): data center '{info.datacenter}', API token '{info.token}'."
            )
            self.stdout.write(f"API at {sandbox.api_base} ; record test responses at {sandbox.url}/ ; control at "
                              f"{sandbox.url}/_sandbox/ (Ctrl-C stops).")
            self.stdout.flush()

        try:
            sandbox.serve_forever(ready=ready)
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
