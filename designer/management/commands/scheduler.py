from django.core.management.base import BaseCommand

from designer import scheduler


class Command(BaseCommand):
    help = (
        "Enqueues due polls and reconciliations of active flows, and re-enqueues stalled runs. Task workers "
        "do this already unless SCHEDULER_IN_WORKERS=false; then run it alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None,
                            help="Seconds between rounds (default SCHEDULER_INTERVAL_SECONDS, 5).")
        parser.add_argument("--once", action="store_true", help="One round, then exit.")

    def handle(self, *args, interval: float | None, once: bool, **options):
        if once:
            scheduler.tick()
            return
        scheduler.run_forever(interval or scheduler.interval_seconds())
