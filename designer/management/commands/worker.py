import logging
import os

from django.conf import settings
from django.core.management import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.compat import TASKS_LOGGER
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorker

from config import heap
from designer import scheduler
from designer.dbtasks import Worker


class Command(DatabaseWorker):
    help = (
        "Runs the database task worker (db_worker, same options; each task claimed with one statement) "
        "with the scheduler's duties in a thread of the same process (unless SCHEDULER_IN_WORKERS=false)."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--scheduler-interval", type=float, default=None,
                            help="Seconds between the scheduler's rounds (default SCHEDULER_INTERVAL_SECONDS, 5).")
        parser.add_argument("--no-scheduler", action="store_true",
                            help="Run tasks only: another worker (or `manage.py scheduler`) runs the scheduler's duties.")

    def configure_logging(self, verbosity: int) -> None:
        """As db_worker's, except that each task's start and success are logged only from -v 2 up:
        a run's history is on its page, and two lines per run cost a busy worker CPU. Failures
        are logged at every verbosity above 0."""
        super().configure_logging(verbosity)
        if verbosity == 1:
            logging.getLogger(TASKS_LOGGER).setLevel(logging.WARNING)

    def handle(self, *, verbosity, queue_name, interval, batch, backend_name, startup_delay, reload, max_tasks,
               worker_id, exclude_queues, scheduler_interval: float | None, no_scheduler: bool = False,
               **options):
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []
        if excluded_queue_names and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(
            queue_names=queue_names, interval=interval, batch=batch, backend_name=backend_name,
            startup_delay=startup_delay, max_tasks=max_tasks, worker_id=worker_id,
            excluded_queue_names=excluded_queue_names,
        )
        reload = reload and not batch
        if settings.SCHEDULER_IN_WORKERS and not no_scheduler and (not reload or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true"):
            scheduler.start_in_background(scheduler_interval or scheduler.interval_seconds())
        if reload:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":  # the child that runs tasks
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            heap.settle()
            worker.run()
