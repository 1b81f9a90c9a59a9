"""A small HTTP base for connector clients: fixed timeouts, bounded retries, typed errors.

Provider clients subclass `HttpClient` and override `error_for_response()` (and, if they want
their own classes, `error_for_exception()`) to turn a provider's answers into `ConnectorError`s
marked retryable or permanent. `send()` owns the retry policy so every provider gets the same one.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

logger = logging.getLogger(__name__)

# Methods that may be repeated without changing the outcome (RFC 9110 §9.2.2). POST is not one:
# it is retried only when the server certainly did not process it (see `_may_retry`).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class ConnectorError(Exception):
    """A call to an outside service failed.

    `message` is written for the person who set up the flow; `status` is the HTTP status (None
    for transport failures), `request_id` the provider's id for the call (quote it to support),
    `retryable` says whether the same call may succeed later, `retry_after` how long the provider
    asked us to wait, in seconds, when it said so.
    """

    default_message = "The call to the outside service failed."
    retryable = False

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.status = status
        self.request_id = request_id
        if retryable is not None:
            self.retryable = retryable
        self.retry_after = retry_after
        self.code = code
        self.attempts = 1
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request id {self.request_id})"
        return self.message


def failed_before_sending(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached the server (no connection was made).

    requests wraps urllib3's connect failures in ConnectTimeout, or in ConnectionError around a
    MaxRetryError whose reason is a ConnectTimeoutError (NewConnectionError, the refused or
    unresolvable case, is a subclass). Anything else (a reset or timeout while reading) may have
    happened after the server received, and perhaps applied, the request.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, ConnectTimeoutError)
    return False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpClient:
    """Sends requests through one pooled session with fixed timeouts and bounded retries.

    Retries happen on errors marked `retryable` (by default 429, 5xx, timeouts and connection
    failures), at most `max_retries` times and never past `max_retry_seconds` after the first
    attempt. The wait is exponential back-off with jitter, or the server's Retry-After when it
    sent one; a Retry-After longer than `max_retry_after` (or than the time left) is not waited
    out: the error is raised at once with `retry_after` set so a task queue can reschedule.
    A POST that timed out or broke off after it was sent is neither retried nor marked
    `retryable`: the server may have applied it.
    """

    # Called with (method, url) before a request that is not safe to repeat (a POST) is sent; the
    # run engine sets it to note that a step may have changed something at the provider.
    before_unsafe_send: Callable[[str, str], None] | None = None

    def __init__(
        self,
        *,
        timeout: float | tuple[float, float] = (5, 30),
        max_retries: int = 4,
        max_retry_seconds: float = 60,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.max_retry_seconds = float(max_retry_seconds)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.max_retry_after = float(max_retry_after)
        self.session = session if session is not None else requests.Session()

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Hooks for provider clients -------------------------------------------------------------

    def error_for_response(self, response: requests.Response, *, method: str, url: str) -> ConnectorError:
        """Map an error response (status >= 400, or an unexpected 3xx) to a ConnectorError."""
        status = response.status_code
        retryable = status == 429 or status >= 500
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return ConnectorError(
            f"{method} {url} answered {status}.", status=status, retryable=retryable, retry_after=retry_after
        )

    def error_for_exception(self, exc: requests.RequestException, *, method: str, url: str) -> ConnectorError:
        """Map a transport failure to a ConnectorError; timeouts and connection errors are retryable."""
        if isinstance(exc, requests.Timeout):
            return ConnectorError(f"{method} {url} timed out.", retryable=True)
        if isinstance(exc, requests.ConnectionError):
            return ConnectorError(f"Could not connect for {method} {url}.", retryable=True)
        return ConnectorError(f"{method} {url} could not be sent: {exc}", retryable=False)

    # Sending --------------------------------------------------------------------------------

    def send(self, method: str, url: str, *, raise_for_status: bool = True, **kwargs: Any) -> requests.Response:
        """Send one request with the retry policy; returns a response with status < 400.

        With `raise_for_status=False` the last response is returned instead of raising when the
        server answered (transport failures still raise). Redirects are never followed: a
        provider's token header would otherwise travel to wherever the redirect points.
        """
        method = method.upper()
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        if method not in IDEMPOTENT_METHODS and self.before_unsafe_send is not None:
            self.before_unsafe_send(method, url)
        started = time.monotonic()
        attempt = 0
        while True:
            response: requests.Response | None = None
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.RequestException as exc:
                error = self.error_for_exception(exc, method=method, url=url)
                may_retry = error.retryable and (method in IDEMPOTENT_METHODS or failed_before_sending(exc))
                if error.retryable and not may_retry:
                    # The server may have applied it; whoever catches this must not send it again either.
                    error.retryable = False
                    error.message = f"{error.message} It may have been applied, so it was not sent again."
                cause: BaseException | None = exc
            else:
                if response.status_code < 300:
                    return response
                error = self.error_for_response(response, method=method, url=url)
                # A 429 or 5xx answer means the server refused or failed the call as a whole, so
                # even a POST may be repeated; other statuses are permanent.
                may_retry = error.retryable
                cause = None

            delay = self._retry_delay(attempt, error)
            elapsed = time.monotonic() - started
            if (
                not may_retry
                or delay is None
                or attempt >= self.max_retries
                or elapsed + delay > self.max_retry_seconds
            ):
                error.attempts = attempt + 1
                if attempt and error.retryable:
                    error.message = f"{error.message} Gave up after {attempt + 1} attempts in {elapsed:.1f} s."
                if response is not None and not raise_for_status:
                    return response
                if response is not None:
                    response.close()
                raise error from cause

            if response is not None:
                response.close()
            logger.info("Retrying %s %s in %.2f s after: %s", method, url, delay, error)
            time.sleep(delay)
            attempt += 1

    def _retry_delay(self, attempt: int, error: ConnectorError) -> float | None:
        """Seconds to wait before the next attempt, or None when waiting is not worth it."""
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            # A little jitter on top keeps many workers from coming back in the same instant.
            return error.retry_after + random.uniform(0, min(0.25, error.retry_after * 0.1))
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)
