"""Event subscription deliveries: form-encoded POSTs to `publicationUrl`, as Qualtrics sends them.

Format (qualtrics-api.md §9, [H]/[M]): `Topic` = `{BrandID}.surveyengine.completedResponse.{SurveyID}`,
`MSG` = a JSON string, `HMAC` = hex HMAC-SHA512 of MSG keyed with the subscription's sharedKey.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from connectors.qualtrics.sandbox.state import SandboxState

logger = logging.getLogger(__name__)


def topic_matches(pattern: str, topic: str) -> bool:
    """Subscription topics allow `*` wildcards: `*`, `surveyengine.completedResponse.*` (§9, [H]).
    A subscription's `topics` may list several, separated by commas."""
    for part in pattern.split(","):
        part = part.strip()
        if part and re.fullmatch(re.escape(part).replace(r"\*", ".*"), topic):
            return True
    return False


def sign(message: str, shared_key: str) -> str:
    return hmac.new(shared_key.encode(), message.encode(), hashlib.sha512).hexdigest()


@dataclass
class Delivery:
    subscription_id: str
    url: str
    topic: str
    message: str
    shared_key: str | None
    generation: int
    brand_id: str


class Deliverer:
    """A few daemon threads that POST queued deliveries and record each attempt in the state."""

    def __init__(self, state: SandboxState, *, workers: int = 4, timeout: float = 5.0) -> None:
        self.state = state
        self.timeout = timeout
        self.workers = workers
        self.queue: queue.Queue[Delivery | None] = queue.Queue()
        self.threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()

    def start(self) -> None:
        with self._start_lock:
            if self.threads:
                return
            for index in range(self.workers):
                thread = threading.Thread(target=self._run, name=f"qualtrics-sandbox-delivery-{index}", daemon=True)
                thread.start()
                self.threads.append(thread)

    def stop(self) -> None:
        with self._start_lock:
            for _ in self.threads:
                self.queue.put(None)
            for thread in self.threads:
                thread.join(timeout=2)
            self.threads = []

    def publish(self, brand_id: str, topic: str, payload: dict[str, Any]) -> int:
        """Queue one delivery per subscription of the brand whose topics match; returns how many."""
        message = json.dumps(payload, separators=(",", ":"))
        full_topic = f"{brand_id}.{topic}"
        queued = 0
        with self.state.lock:
            brand = self.state.brands.get(brand_id)
            if brand is None:
                return 0
            for subscription in brand.subscriptions.values():
                if not topic_matches(subscription["topics"], topic):
                    continue
                delivery = Delivery(
                    subscription_id=subscription["id"],
                    url=subscription["publicationUrl"],
                    topic=full_topic,
                    message=message,
                    shared_key=subscription.get("sharedKey"),
                    generation=self.state.generation,
                    brand_id=brand_id,
                )
                if self.state.drop_deliveries > 0:
                    # Lost on purpose, so tests can show what happens when Qualtrics never calls.
                    self.state.drop_deliveries -= 1
                    self.state.record_delivery(self._record(delivery, status=None, dropped=True), delivery.generation)
                    continue
                self.queue.put(delivery)
                queued += 1
        if queued:
            self.start()
        return queued

    def _record(
        self, delivery: Delivery, *, status: int | None, dropped: bool = False, error: str = ""
    ) -> dict[str, Any]:
        return {
            "subscription_id": delivery.subscription_id,
            "url": delivery.url,
            "topic": delivery.topic,
            "msg": delivery.message,
            "status": status,
            "dropped": dropped,
            "error": error,
            "at": time.time(),
        }

    def _run(self) -> None:
        session = requests.Session()
        # Deliveries go to local receivers; a proxy from the environment must not intercept them.
        session.trust_env = False
        while True:
            delivery = self.queue.get()
            if delivery is None:
                return
            form = {"Topic": delivery.topic, "MSG": delivery.message}
            if delivery.shared_key:
                form["HMAC"] = sign(delivery.message, delivery.shared_key)
            status: int | None = None
            error = ""
            try:
                response = session.post(delivery.url, data=form, timeout=self.timeout, allow_redirects=False)
                status = response.status_code
                response.close()
            except requests.RequestException as exc:
                error = str(exc)
                logger.info("Sandbox delivery to %s failed: %s", delivery.url, exc)
            with self.state.lock:
                brand = self.state.brands.get(delivery.brand_id)
                subscription = brand.subscriptions.get(delivery.subscription_id) if brand else None
                if subscription is not None and status is not None and 200 <= status < 300:
                    subscription["successfulPublications"] += 1
                self.state.record_delivery(self._record(delivery, status=status, error=error), delivery.generation)
                self.state.changed.notify_all()
