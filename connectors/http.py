"""A small HTTP base for connector clients: fixed timeouts, bounded retries, typed errors.

Provider clients subclass `HttpClient` and override `error_for_response()` (and, if they want
their own classes, `error_for_exception()`, `maybe_applied_error()` and `retry_later_error()`) to
turn a provider's answers into `ConnectorError`s marked retryable or permanent. `send()` owns the
retry policy so every provider gets the same one.

The policy rests on what a call may do to the provider (RFC 9110 §9.2):

- safe (GET, HEAD, OPTIONS) and idempotent (PUT, DELETE) calls are repeated on retryable errors;
- a call that is not idempotent (POST, PATCH) is never sent again once it may have reached the
  server: a 5xx answer, a timeout or a reset after sending raise `MaybeAppliedError`. It is
  repeated only when it certainly was not applied: the connection failed before anything was
  sent, or the server answered 429 (a refusal of the whole call);
- a wait the server asks for (Retry-After, on 429 and 5xx) is honoured; a wait longer than
  `max_retry_after` is not slept through but raised as `RetryLaterError` so a task queue can
  come back later.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from connectors.transport import KeepAliveAdapter

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Methods that may be repeated without changing the outcome (RFC 9110 §9.2.2).
IDEMPOTENT_METHODS = SAFE_METHODS | {"PUT", "DELETE"}


def call_kind(method: str) -> str:
    """"safe", "idempotent" or "unsafe": what repeating a call with this method may do."""
    method = method.upper()
    if method in SAFE_METHODS:
        return "safe"
    if method in IDEMPOTENT_METHODS:
        return "idempotent"
    return "unsafe"


class ConnectorError(Exception):
    """A call to an outside service failed.

    `message` is written for the person who set up the flow; `status` is the HTTP status (None
    for transport failures), `request_id` the provider's id for the call (quote it to support),
    `retryable` says whether the same call may succeed later, `retry_after` how long the provider
    asked us to wait, in seconds, when it said so. `attempts` is how many HTTP attempts were sent
    and `attempt_records` what happened to each (`AttemptRecord`s).
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
        self.attempt_records: list[AttemptRecord] = []
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request id {self.request_id})"
        return self.message


class MaybeAppliedError(ConnectorError):
    """A change (POST, PATCH) may have been applied by the server, so it was not sent again.

    Never retryable: sending it again could make the change twice. `method` and `action` name the
    call; `cause` is the error that stopped it (a 5xx answer or a transport failure).
    """

    default_message = "The change may have been applied, so it was not sent again."
    retryable = False

    def __init__(self, message: str | None = None, *, method: str = "", action: str = "", cause: ConnectorError | None = None, **kwargs: Any) -> None:
        kwargs.pop("retryable", None)
        super().__init__(message, retryable=False, **kwargs)
        self.method = method
        self.action = action
        self.cause = cause


class RetryLaterError(ConnectorError):
    """The call should be made again after `retry_after` seconds, longer than it is worth waiting
    inline. Nothing was applied: either the server refused the call (429, or a 5xx on a call that
    may be repeated) or it was never sent because the shared rate limiter is out of room."""

    default_message = "The call should be made again later."
    retryable = True

    def __init__(self, message: str | None = None, *, retry_after: float, **kwargs: Any) -> None:
        kwargs.pop("retryable", None)
        super().__init__(message, retryable=True, retry_after=float(retry_after), **kwargs)


@dataclass(frozen=True)
class AttemptRecord:
    """One HTTP attempt, as given to `on_attempt` and kept on errors.

    `status` is the HTTP status, or None when no answer came; `error` the class name of the error
    the attempt ended with (None when it succeeded); `wait_seconds` how long the client waited
    before sending it (rate limiter and back-off); `retry_after` the wait the server asked for;
    `started_at` a Unix time; `duration_ms` the time until the answer or the failure.
    """

    number: int
    method: str
    path: str
    status: int | None
    error: str | None
    wait_seconds: float
    retry_after: float | None
    started_at: float
    duration_ms: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RateLimiter(Protocol):
    """What `HttpClient` needs from a rate limiter (see connectors/ratelimit.py)."""

    def reserve(self, method: str, url: str) -> Any: ...


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


# A URL that requests sends exactly as it is given: an http(s) scheme and a host in lower case, a
# port without leading zeros, a path of segments of unreserved characters (none empty, none a dot
# segment, which would be resolved), and no credentials, query or fragment.
PLAIN_URL = re.compile(r"https?://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[1-9][0-9]{0,4})?"
                       r"(?:(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+/?|/)")


class DirectSession(requests.Session):
    """A session for one provider's API whose calls go straight to the connection pool.

    Once it reads nothing from the environment (`trust_env` off, its proxies and CA settings
    fixed, as the Qualtrics client does when it is made), a call that follows no redirect is
    prepared with the session's headers and parameters and sent by its adapter with the session's
    proxies, CA and certificate settings: what `requests.Session` does, without its cookie jar
    (nothing is kept from a response or sent with a request), hooks and per-call merging: a sixth
    to a fifth of a call's CPU. A call that asks for any of those goes through `requests.Session`.

    Its adapter is `KeepAliveAdapter` (connectors/transport.py): kept sockets, with requests' own
    adapter for what that one does not take (proxies, streamed answers)."""

    def __init__(self) -> None:
        super().__init__()
        adapter = KeepAliveAdapter()
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method, url, params=None, data=None, headers=None, cookies=None, files=None, auth=None,
                timeout=None, allow_redirects=True, proxies=None, hooks=None, stream=None, verify=None, cert=None,
                json=None):
        if (allow_redirects or cookies or auth or proxies or hooks or self.trust_env or self.auth
                or any(self.hooks.values())):
            return super().request(method, url, params=params, data=data, headers=headers, cookies=cookies,
                                   files=files, auth=auth, timeout=timeout, allow_redirects=allow_redirects,
                                   proxies=proxies, hooks=hooks, stream=stream, verify=verify, cert=cert, json=json)
        prepared = self.prepare_direct(method, url, params=params, data=data, headers=headers, files=files,
                                       json=json)
        stream = self.stream if stream is None else stream
        response = self.get_adapter(prepared.url).send(
            prepared, stream=stream, timeout=timeout, verify=self.verify if verify is None else verify,
            cert=self.cert if cert is None else cert, proxies=self.proxies)
        if not stream:
            response.content  # noqa: B018 - read the body now, as requests does
        return response

    def prepare_direct(self, method, url, *, params=None, data=None, headers=None, files=None, json=None):
        """The request as `requests.PreparedRequest.prepare` makes it for a call without cookies or
        credentials. A plain URL (`PLAIN_URL`, no parameters to add) is the one requests would send,
        so it is taken as it is instead of being parsed, checked and put together again."""
        prepared = requests.PreparedRequest()
        params = merge_setting(params or {}, self.params)
        headers = merge_setting(headers, self.headers, dict_class=CaseInsensitiveDict)
        if params or not PLAIN_URL.fullmatch(url):
            prepared.prepare(method=method.upper(), url=url, files=files, data=data or {}, json=json,
                             headers=headers, params=params)
            return prepared
        prepared.method = method.upper()
        prepared.url = url
        prepared.prepare_headers(headers)
        prepared.prepare_body(data or {}, files, json)
        return prepared


class HttpClient:
    """Sends requests through one pooled session with fixed timeouts and bounded retries.

    Retries happen on errors marked `retryable` (by default 429, 5xx, timeouts and connection
    failures) when the call may be repeated (see the module docstring), at most `max_retries`
    times and never past `max_retry_seconds` after the first attempt. The wait is exponential
    back-off with jitter, or the server's Retry-After when it sent one; a Retry-After longer than
    `max_retry_after` (or than the time left) is not waited out: `RetryLaterError` is raised at
    once with `retry_after` set so a task queue can reschedule.

    With a `rate_limiter`, room is reserved before every attempt; a wait for room longer than
    `max_retry_after` raises `RetryLaterError` without sending anything.
    """

    # Called with (method, url) before a request that is not safe to repeat (a POST) is sent; the
    # run engine sets it to note that a step may have changed something at the provider.
    before_unsafe_send: Callable[[str, str], None] | None = None
    # Called with an AttemptRecord after every HTTP attempt, successful or not.
    on_attempt: Callable[[AttemptRecord], None] | None = None

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
        rate_limiter: RateLimiter | None = None,
        on_attempt: Callable[[AttemptRecord], None] | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.max_retry_seconds = float(max_retry_seconds)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.max_retry_after = float(max_retry_after)
        self.session = session if session is not None else DirectSession()
        self.rate_limiter = rate_limiter
        if on_attempt is not None:
            self.on_attempt = on_attempt

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Hooks for provider clients -------------------------------------------------------------

    def describe_path(self, url: str) -> str:
        """How a URL is named in attempt records and messages (providers shorten it)."""
        return urlsplit(url).path or "/"

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

    def maybe_applied_error(self, error: ConnectorError, *, method: str, url: str) -> MaybeAppliedError:
        """The error for a change that reached the server and was not confirmed."""
        return MaybeAppliedError(
            f"{error.message} The change may have been applied, so it was not sent again.",
            method=method,
            action=f"{method} {self.describe_path(url)}",
            cause=error,
            status=error.status,
            request_id=error.request_id,
            retry_after=error.retry_after,
            code=error.code,
        )

    def retry_later_error(self, error: ConnectorError, *, retry_after: float) -> RetryLaterError:
        """The error for a refusal whose requested wait is too long to sleep through."""
        return RetryLaterError(
            f"{error.message} The server asked to wait {retry_after:.0f} s, longer than is waited inline.",
            retry_after=retry_after,
            status=error.status,
            request_id=error.request_id,
            code=error.code,
        )

    def rate_limit_wait_error(self, *, method: str, url: str, wait: float, limit: str) -> RetryLaterError:
        """The error for a call not sent because the shared rate limiter has no room soon enough."""
        return RetryLaterError(
            f"{method} {self.describe_path(url)} was not sent: staying under the rate limit ({limit}) needs a wait "
            f"of {wait:.0f} s.",
            retry_after=wait,
        )

    # Sending --------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        url: str,
        *,
        raise_for_status: bool = True,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request with the retry policy; returns a response with status < 400.

        With `raise_for_status=False` the last response is returned instead of raising when the
        server answered (transport failures still raise). Redirects are never followed: a
        provider's token header would otherwise travel to wherever the redirect points.
        `idempotent=True` declares a POST that may safely be repeated (it only starts a job, say).
        """
        method = method.upper()
        repeatable = call_kind(method) != "unsafe" if idempotent is None else bool(idempotent)
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        if not repeatable and self.before_unsafe_send is not None:
            self.before_unsafe_send(method, url)
        path = self.describe_path(url)
        records: list[AttemptRecord] = []
        started = time.monotonic()
        waited = 0.0
        earlier_may_have_applied = False
        while True:
            waited += self._wait_for_room(method, url, records)
            response: requests.Response | None = None
            cause: BaseException | None = None
            sent_at, clock = time.time(), time.monotonic()
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.RequestException as exc:
                error = self.error_for_exception(exc, method=method, url=url)
                # A failure before the connection was made cannot have changed anything.
                may_be_applied = not failed_before_sending(exc)
                cause = exc
            else:
                # A DELETE repeated after an attempt that may have deleted it finds nothing: done.
                deleted_before = method == "DELETE" and response.status_code in (404, 410) and earlier_may_have_applied
                if response.status_code < 300 or deleted_before:
                    self._record(records, method, path, response.status_code, None, waited, None, sent_at, clock)
                    return response
                error = self.error_for_response(response, method=method, url=url)
                # A 429 refuses the call as a whole; a 5xx may come from a server or proxy that
                # applied the change first; any other status is a refusal.
                may_be_applied = response.status_code >= 500
            earlier_may_have_applied = earlier_may_have_applied or may_be_applied
            status = response.status_code if response is not None else None
            self._record(records, method, path, status, type(error).__name__, waited, error.retry_after, sent_at, clock)
            waited = 0.0

            if error.retryable and may_be_applied and not repeatable:
                if response is not None and not raise_for_status:
                    return response
                raise self._finish(self.maybe_applied_error(error, method=method, url=url), records) from cause
            elapsed = time.monotonic() - started
            delay = self._retry_delay(len(records) - 1, error)
            if error.retryable and error.retry_after is not None and (
                error.retry_after > self.max_retry_after or elapsed + delay > self.max_retry_seconds
            ):
                if response is not None and not raise_for_status:
                    return response
                if response is not None:
                    response.close()
                later = self.retry_later_error(error, retry_after=error.retry_after)
                raise self._finish(later, records) from cause
            if not error.retryable or len(records) > self.max_retries or elapsed + delay > self.max_retry_seconds:
                if len(records) > 1 and error.retryable:
                    error.message = f"{error.message} Gave up after {len(records)} attempts in {elapsed:.1f} s."
                if response is not None and not raise_for_status:
                    return response
                if response is not None:
                    response.close()
                raise self._finish(error, records) from cause

            if response is not None:
                response.close()
            logger.info("Retrying %s %s in %.2f s after: %s", method, path, delay, error)
            time.sleep(delay)
            waited += delay

    def _wait_for_room(self, method: str, url: str, records: list[AttemptRecord]) -> float:
        """Reserve room with the rate limiter and wait for it; returns the seconds waited."""
        if self.rate_limiter is None:
            return 0.0
        reservation = self.rate_limiter.reserve(method, url)
        wait = float(getattr(reservation, "wait", 0.0) or 0.0)
        if wait <= 0:
            return 0.0
        if wait > self.max_retry_after:
            # Nothing is sent, so the room reserved goes back to the others.
            reservation.cancel()
            limit = getattr(reservation, "limit", "") or "shared"
            raise self._finish(self.rate_limit_wait_error(method=method, url=url, wait=wait, limit=limit), records)
        time.sleep(wait)
        return wait

    def _record(
        self,
        records: list[AttemptRecord],
        method: str,
        path: str,
        status: int | None,
        error: str | None,
        waited: float,
        retry_after: float | None,
        sent_at: float,
        clock: float,
    ) -> None:
        record = AttemptRecord(
            number=len(records) + 1,
            method=method,
            path=path,
            status=status,
            error=error,
            wait_seconds=round(waited, 3),
            retry_after=retry_after,
            started_at=sent_at,
            duration_ms=int((time.monotonic() - clock) * 1000),
        )
        records.append(record)
        if self.on_attempt is not None:
            try:
                self.on_attempt(record)
            except Exception:
                # Storing attempts is bookkeeping; it must not change what the call does.
                logger.exception("on_attempt failed for %s %s", method, path)

    @staticmethod
    def _finish(error: ConnectorError, records: list[AttemptRecord]) -> ConnectorError:
        error.attempt_records = list(records)
        error.attempts = len(records)
        return error

    def _retry_delay(self, attempt: int, error: ConnectorError) -> float:
        """Seconds to wait before the next attempt: the server's Retry-After, or back-off."""
        if error.retry_after is not None:
            # A little jitter on top keeps many workers from coming back in the same instant.
            return error.retry_after + random.uniform(0, min(0.25, error.retry_after * 0.1))
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)
