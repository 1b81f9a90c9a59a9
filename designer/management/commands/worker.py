from django.conf import settings
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorker

from designer import scheduler


class Command(DatabaseWorker):
    help = (
        "Runs the database task worker (db_worker, same options) with the scheduler's duties in a thread "
        "of the same process (unless SCHEDULER_IN_WORKERS=false)."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--scheduler-interval", type=float, default=None,
                            help="Seconds between the scheduler's rounds (default SCHEDULER_INTERVAL_SECONDS, 5).")

    def handle(self, *args, scheduler_interval: float | None, **options):
        if settings.SCHEDULER_IN_WORKERS:
            scheduler.start_in_background(scheduler_interval or scheduler.interval_seconds())
        super().handle(*args, **options)
