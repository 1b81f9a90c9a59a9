"""`manage.py mail_catcher`: an SMTP server that keeps mail in memory and a page listing it (for the demo)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from connectors.email.catcher import MailCatcher


class Command(BaseCommand):
    help = ("Catches mail for the demo: an SMTP server on --smtp-port (8025) that sends nothing on, and a page on "
            "--web-port (8026) listing what arrived. Point the product at it with EMAIL_HOST=127.0.0.1 "
            "EMAIL_PORT=8025.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default 127.0.0.1).")
        parser.add_argument("--smtp-port", type=int, default=8025)
        parser.add_argument("--web-port", type=int, default=8026)

    def handle(self, *args: Any, host: str, smtp_port: int, web_port: int, **options: Any) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection
        catcher = MailCatcher(host, smtp_port, web_port).start()
        self.stdout.write(self.style.SUCCESS("Mail catcher ") + f"SMTP on {host}:{smtp_port} ; mail shown at "
                          f"{catcher.url} (Ctrl-C stops).")
        self.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            catcher.stop()
