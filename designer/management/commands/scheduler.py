import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Enqueues due polls and reconciliations of active flows, and re-enqueues stalled runs."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=5.0)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args, interval: float, once: bool, **options):
        from designer.models import Activation
        from designer.polling import activations_due
        from designer.runs import runs_requeue_stalled
        from designer.tasks import poll_activation

        while True:
            close_old_connections()
            try:
                for activation_id in activations_due():
                    Activation.objects.filter(pk=activation_id).update(last_polled_at=timezone.now())
                    poll_activation.enqueue(activation_id)
                runs_requeue_stalled()
            except Exception:
                logger.exception("Scheduler tick failed")
            if once:
                return
            time.sleep(interval)
