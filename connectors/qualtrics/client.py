"""Qualtrics v3 API client: one method per operation the cards use.

Facts about the API come from docs/qualtrics-api.md (cited as §n with its confidence tag);
the project's sandbox (`connectors/qualtrics/sandbox/`) encodes the same facts.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
from django.conf import settings

from connectors import ratelimit
from connectors.http import AttemptRecord, ConnectorError, HttpClient
from connectors.qualtrics import limits
from connectors.qualtrics.errors import (
    AuthenticationError,
    ExportFailedError,
    InvalidDatacenterError,
    MaybeAppliedError,
    QualtricsError,
    RateLimitedError,
    RateLimitRetryLaterError,
    RetryLaterError,
    TransientError,
    TransientRetryLaterError,
    UnsafeRequestError,
    ValidationError,
    error_from_response,
)

logger = logging.getLogger(__name__)

DATACENTER_RE = re.compile(r"[A-Za-z0-9]+")
# Qualtrics ids (SV_, R_, UR_, CID_, file ids made of a uuid and a suffix...) use only these.
ID_RE = re.compile(r"[A-Za-z0-9_\-]+")
RAW_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})
# Headers a Custom API Action may not set: the connector owns authentication and framing.
RESERVED_HEADERS = frozenset(
    {
        "x-api-token",
        "host",
        "authorization",
        "cookie",
        "content-length",
        "transfer-encoding",
        "connection",
        "proxy-authorization",
    }
)
HEADER_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
MAX_PAGES = 10_000
# Imports above 5 MB are refused by Qualtrics (§10, [L/M]); checking first saves the upload.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
# Qualtrics caps an export at about 1.8 GB (§10); anything much larger in a zip is not an export.
MAX_EXTRACT_BYTES = 4 * 1024**3
CHUNK = 256 * 1024
IMPORT_CONTENT_TYPES = {
    ".qsf": "application/vnd.qualtrics.survey.qsf",
    ".txt": "application/vnd.qualtrics.survey.txt",
    ".doc": "application/vnd.qualtrics.survey.doc",
    ".docx": "application/vnd.qualtrics.survey.doc",
}
EXPORT_EXTENSIONS = {"csv": "csv", "tsv": "tsv", "json": "json", "ndjson": "ndjson", "spss": "sav", "xml": "xml"}
# The client keeps this far under each published limit: the limits are the brand's, and other
# tools of the same brand spend from them too.
RATE_LIMIT_HEADROOM = 0.9
_FROM_SETTINGS: Any = object()


@dataclass(frozen=True)
class ExportResult:
    path: Path
    continuation_token: str | None
    file_format: str


@dataclass(frozen=True)
class RawResponse:
    status_code: int
    headers: dict[str, str]
    body: Any


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _iso(value: datetime | date | str | None) -> str | None:
    """Export dates are ISO-8601 in UTC, e.g. 2024-01-13T12:30:00Z (§6.2, [H])."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{value.isoformat()}T00:00:00Z"


class QualtricsClient(HttpClient):
    """Talks to one Qualtrics brand with one API token.

    The token is sent only to the API base's own scheme, host and port: redirects are not
    followed and a `nextPage` pointing elsewhere stops paging with UnsafeRequestError.
    """

    def __init__(
        self,
        *,
        datacenter: str,
        token: str,
        base_url: str | None = None,
        timeout: float | tuple[float, float] = (5, 30),
        max_retries: int = 4,
        max_retry_seconds: float = 60,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float | None = None,
        session: requests.Session | None = None,
        rate_limiter: ratelimit.RateLimiter | None = _FROM_SETTINGS,
        on_attempt: Callable[[AttemptRecord], None] | None = None,
    ) -> None:
        """`max_retry_after` is the longest wait slept through inline (Retry-After, or the rate
        limiter's), `settings.QUALTRICS_MAX_INLINE_WAIT_SECONDS` unless given. `rate_limiter` is
        the shared one of `settings.QUALTRICS_RATE_LIMIT_BACKEND` unless given (None: none).
        `on_attempt(record)` is called with an `AttemptRecord` after every HTTP attempt."""
        datacenter = (datacenter or "").strip()
        # The data center is put into a URL; letters and digits only keeps it from changing the
        # host or path (ids in §1 look like `iad1`, `fra1`).
        if not DATACENTER_RE.fullmatch(datacenter):
            raise InvalidDatacenterError(
                f"The data center ID {datacenter!r} is not valid: use only letters and digits, for example 'iad1'."
            )
        if not token or not re.fullmatch(r"[\x21-\x7e]+", token):
            raise AuthenticationError("The API token is empty or contains spaces or control characters.")
        super().__init__(
            timeout=timeout,
            max_retries=max_retries,
            max_retry_seconds=max_retry_seconds,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            max_retry_after=(
                float(getattr(settings, "QUALTRICS_MAX_INLINE_WAIT_SECONDS", 10))
                if max_retry_after is None
                else max_retry_after
            ),
            session=session,
            on_attempt=on_attempt,
        )
        self.datacenter = datacenter
        template = base_url if base_url is not None else settings.QUALTRICS_API_BASE
        base = template.replace("{datacenter}", datacenter)
        if not base.endswith("/"):
            base += "/"
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise QualtricsError(f"The Qualtrics API base {base!r} is not an http(s) URL.")
        self.base_url = base
        self._origin = _origin(base)
        if session is None:
            self._settle_environment()
        # Header name is case-insensitive for Qualtrics (§1, [H]); the session pools connections.
        self.session.headers["X-API-TOKEN"] = token
        self.session.headers["Accept"] = "application/json"
        self._connection = ratelimit.connection_key(datacenter, token)
        if rate_limiter is _FROM_SETTINGS:
            store = ratelimit.store_for(
                getattr(settings, "QUALTRICS_RATE_LIMIT_BACKEND", "memory"), redis_url=getattr(settings, "REDIS_URL", "")
            )
            rate_limiter = ratelimit.RateLimiter(store, self.rate_limit_buckets) if store is not None else None
        self.rate_limiter = rate_limiter

    def __repr__(self) -> str:
        return f"<QualtricsClient {self.base_url}>"

    def _settle_environment(self) -> None:
        """Reads once what `requests` would read from the environment before every call: the
        proxy for the API base (HTTPS_PROXY, NO_PROXY, …) and a CA bundle (REQUESTS_CA_BUNDLE).
        The client only calls its own origin, so the answer does not change between calls. A
        ~/.netrc entry is not used: the token header is the only credential sent."""
        found = self.session.merge_environment_settings(self.base_url, {}, None, None, None)
        self.session.proxies = dict(found["proxies"])
        self.session.verify = found["verify"]
        self.session.trust_env = False

    # Plumbing -------------------------------------------------------------------------------

    def _describe(self, url: str) -> str:
        if url.startswith(self.base_url):
            return url[len(self.base_url) :].split("?", 1)[0] or "/"
        return url

    def describe_path(self, url: str) -> str:
        return self._describe(url)

    def rate_limit_buckets(self, method: str, url: str) -> list[ratelimit.Bucket]:
        """The shared buckets a call spends from: this connection's brand-wide one and its
        endpoint's (connectors/qualtrics/limits.py), each a little under the published figure."""
        overrides = getattr(settings, "QUALTRICS_RATE_LIMITS", None) or {}
        buckets = []
        for name, per_minute in limits.limits_for(method, self._describe(url), overrides):
            allowed = per_minute * RATE_LIMIT_HEADROOM
            buckets.append(
                ratelimit.Bucket(
                    key=f"qualtrics:{self._connection}:{name}",
                    per_minute=allowed,
                    capacity=max(1.0, allowed * limits.BURST_SECONDS / 60.0),
                    label=f"Qualtrics {name} limit, {per_minute}/min",
                )
            )
        return buckets

    def maybe_applied_error(self, error: ConnectorError, *, method: str, url: str) -> MaybeAppliedError:
        action = f"{method} {self._describe(url)}"
        return MaybeAppliedError(
            f"{error.message} Qualtrics may have applied the change, so it was not sent again.",
            method=method,
            action=action,
            cause=error,
            status=error.status,
            request_id=error.request_id,
            retry_after=error.retry_after,
            code=error.code,
        )

    def retry_later_error(self, error: ConnectorError, *, retry_after: float) -> RetryLaterError:
        cls = RateLimitRetryLaterError if isinstance(error, RateLimitedError) else TransientRetryLaterError
        message = error.message
        if "asked to wait" not in message:
            message = f"{message} Qualtrics asked to wait {retry_after:g} s."
        return cls(
            f"{message} That is longer than is waited inline, so the call is to be made again later.",
            retry_after=retry_after,
            status=error.status,
            request_id=error.request_id,
            code=error.code,
        )

    def rate_limit_wait_error(self, *, method: str, url: str, wait: float, limit: str) -> RetryLaterError:
        return RateLimitRetryLaterError(
            f"{method} {self._describe(url)} was not sent: staying under the {limit} needs a wait of {wait:.0f} s, "
            "longer than is waited inline, so the call is to be made again later.",
            retry_after=wait,
        )

    def _create_or_find(self, create: Callable[[], Any], find: Callable[[], Any] | None, what: str) -> Any:
        """`create()`, or, when Qualtrics may have applied it without saying so, the record
        `find()` looks up by its natural key. Not found (or no key to look by): MaybeAppliedError,
        because only a person can tell whether sending it again would make a second one."""
        try:
            return create()
        except MaybeAppliedError as exc:
            if find is None:
                exc.message += f" There is nothing to look the {what} up by: check Qualtrics, then re-run."
                raise
            try:
                found = find()
            except ConnectorError as lookup:
                exc.message += f" Looking for the {what} failed too ({lookup.message}): check Qualtrics, then re-run."
                raise exc from lookup
            if found is None:
                exc.message += f" No such {what} was found: check Qualtrics, then re-run."
                raise
            logger.info("%s was applied before Qualtrics failed to answer; continuing with %s", exc.action, what)
            return found

    @staticmethod
    def _only(matches: list[Any]) -> Any:
        """The one match, or None when there is none or more than one (then it is not ours to pick)."""
        return matches[0] if len(matches) == 1 else None

    def error_for_response(self, response: requests.Response, *, method: str, url: str) -> ConnectorError:
        return error_from_response(response, action=f"{method} {self._describe(url)}")

    def error_for_exception(self, exc: requests.RequestException, *, method: str, url: str) -> ConnectorError:
        action = f"{method} {self._describe(url)}"
        if isinstance(exc, requests.ConnectTimeout):
            return TransientError(f"Could not connect to Qualtrics in time for {action}.")
        if isinstance(exc, requests.Timeout):
            return TransientError(f"Qualtrics did not answer {action} in time.")
        if isinstance(exc, requests.ConnectionError):
            return TransientError(f"Could not reach Qualtrics at {self.base_url} for {action}.")
        return QualtricsError(f"{action} could not be sent: {exc}")

    def _check_origin(self, url: str) -> None:
        if _origin(url) != self._origin:
            raise UnsafeRequestError(
                f"Qualtrics pointed to {url!r}, which is not on {self.base_url}; the request was not sent so the "
                "API token stays with Qualtrics."
            )

    @staticmethod
    def _seg(value: Any, label: str) -> str:
        """An id placed in a URL path; refusing odd characters keeps it one path segment."""
        text = str(value or "").strip()
        if not ID_RE.fullmatch(text):
            raise ValidationError(f"{text!r} is not a valid {label}.")
        return text

    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if not url.startswith(("http://", "https://")):
            url = self.base_url + url
        self._check_origin(url)
        return self.send(method, url, **kwargs)

    def _result(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._call(method, path, **kwargs)
        try:
            body = response.json() if response.content else {}
        except ValueError as exc:
            raise QualtricsError(
                f"Qualtrics answered {method} {self._describe(response.url or path)} with something other than JSON."
            ) from exc
        if not isinstance(body, dict):
            raise QualtricsError(f"Qualtrics answered {method} {self._describe(path)} with an unexpected document.")
        meta = body.get("meta") or {}
        if isinstance(meta, dict) and meta.get("notice"):
            # Deprecation notices travel in meta.notice (§1, [M]); keep them visible in the logs.
            logger.warning("Qualtrics notice on %s %s: %s", method, self._describe(path), meta["notice"])
        return body.get("result")

    def _id_of(self, result: Any, *keys: str) -> str:
        if isinstance(result, dict):
            for key in keys or ("id",):
                if result.get(key):
                    return str(result[key])
        raise QualtricsError("Qualtrics did not return the id of the new item.")

    def _list(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """All `result.elements`, following `result.nextPage` verbatim (§1 Pagination, [H]).

        The next-page parameter differs by endpoint (offset vs skipToken), so the URL is never
        built here; it is only checked to stay on the API's own origin.
        """
        items: list[dict[str, Any]] = []
        url = self.base_url + path
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            result = self._result("GET", url, params=params) or {}
            items.extend(result.get("elements") or [])
            next_page = result.get("nextPage")
            if not next_page or not isinstance(next_page, str):
                return items
            next_url = urljoin(url, next_page)
            self._check_origin(next_url)
            if next_url in seen:
                raise QualtricsError(f"Qualtrics returned the same next page twice while listing {path}.")
            seen.add(next_url)
            url, params = next_url, None
        raise QualtricsError(f"Listing {path} went past {MAX_PAGES} pages; stopped.")

    # Identity -------------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        return self._result("GET", "whoami")

    # Users (brand administrator token, §3) ---------------------------------------------------

    def list_users(self) -> list[dict[str, Any]]:
        return self._list("users")

    def get_user(self, user_id: str) -> dict[str, Any]:
        return self._result("GET", f"users/{self._seg(user_id, 'user id')}")

    def create_user(self, **fields: Any) -> str:
        """The new user's id; after an unanswered create, the user found by its username."""
        username = str(fields.get("username") or "").strip()
        return self._create_or_find(
            lambda: self._id_of(self._result("POST", "users", json=fields)),
            (lambda: self.find_user_id(username)) if username else None,
            f"user {username!r}" if username else "user",
        )

    def find_user_id(self, username: str) -> str | None:
        """The id of the user with this username (usernames are unique in a brand, any case)."""
        wanted = username.strip().casefold()
        return self._only([u["id"] for u in self.list_users() if str(u.get("username") or "").casefold() == wanted])

    def update_user(self, user_id: str, **fields: Any) -> None:
        self._result("PUT", f"users/{self._seg(user_id, 'user id')}", json=fields)

    def delete_user(self, user_id: str) -> None:
        self._result("DELETE", f"users/{self._seg(user_id, 'user id')}")

    # Groups (§4) -----------------------------------------------------------------------------

    def list_groups(self) -> list[dict[str, Any]]:
        return self._list("groups")

    def get_group(self, group_id: str) -> dict[str, Any]:
        return self._result("GET", f"groups/{self._seg(group_id, 'group id')}")

    def create_group(self, **fields: Any) -> str:
        """The new group's id; after an unanswered create, the one group found by name and type."""
        name = str(fields.get("name") or "").strip()
        return self._create_or_find(
            lambda: self._id_of(self._result("POST", "groups", json=fields)),
            (lambda: self.find_group_id(name, fields.get("type"))) if name else None,
            f"group {name!r}" if name else "group",
        )

    def find_group_id(self, name: str, group_type: str | None = None) -> str | None:
        """The id of the only group with this name (and type); None when none or several match."""
        return self._only(
            [
                g["id"]
                for g in self.list_groups()
                if str(g.get("name") or "").strip() == name.strip() and group_type in (None, "", g.get("type"))
            ]
        )

    def update_group(self, group_id: str, **fields: Any) -> None:
        self._result("PUT", f"groups/{self._seg(group_id, 'group id')}", json=fields)

    def delete_group(self, group_id: str) -> None:
        self._result("DELETE", f"groups/{self._seg(group_id, 'group id')}")

    def add_group_member(self, group_id: str, user_id: str) -> None:
        path = f"groups/{self._seg(group_id, 'group id')}/members"
        self._result("POST", path, json={"userId": self._seg(user_id, "user id")})

    def remove_group_member(self, group_id: str, user_id: str) -> None:
        self._result("DELETE", f"groups/{self._seg(group_id, 'group id')}/members/{self._seg(user_id, 'user id')}")

    # Surveys (§5) ----------------------------------------------------------------------------

    def list_surveys(self) -> list[dict[str, Any]]:
        return self._list("surveys")

    def get_survey(self, survey_id: str) -> dict[str, Any]:
        """The legacy `GET surveys/{id}` shape, with `questions` and `embeddedData` (§5.2, [H])."""
        return self._result("GET", f"surveys/{self._seg(survey_id, 'survey id')}")

    def update_survey(self, survey_id: str, **fields: Any) -> None:
        self._result("PUT", f"surveys/{self._seg(survey_id, 'survey id')}", json=fields)

    def delete_survey(self, survey_id: str) -> None:
        self._result("DELETE", f"surveys/{self._seg(survey_id, 'survey id')}")

    def import_survey(self, *, name: str, fileobj: IO[bytes], filename: str, content_type: str | None = None) -> str:
        """Multipart `POST surveys` with parts `name` and `file`; the file's MIME type picks the
        format (§5.5, [H]). The body is read up front so a retry after a 429/5xx resends it whole."""
        if not name or not str(name).strip():
            raise ValidationError("Give the imported survey a name.")
        if content_type is None:
            content_type = IMPORT_CONTENT_TYPES.get(PurePosixPath(filename).suffix.lower())
        if content_type is None:
            raise ValidationError(
                f"{filename!r} is not a survey file Qualtrics imports: use a .qsf, .txt or .docx file."
            )
        data = fileobj.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            raise ValidationError("The survey file is over 5 MB, which Qualtrics refuses.")
        files = {"file": (filename, data, content_type)}
        return self._id_of(self._result("POST", "surveys", data={"name": name}, files=files))

    # Responses (§6) --------------------------------------------------------------------------

    def get_response(self, survey_id: str, response_id: str) -> dict[str, Any]:
        path = f"surveys/{self._seg(survey_id, 'survey id')}/responses/{self._seg(response_id, 'response id')}"
        return self._result("GET", path)

    def create_response(self, survey_id: str, values: Mapping[str, Any]) -> str:
        path = f"surveys/{self._seg(survey_id, 'survey id')}/responses"
        return self._id_of(self._result("POST", path, json={"values": dict(values)}), "responseId", "id")

    def start_export(self, survey_id: str, **body: Any) -> dict[str, Any]:
        body.setdefault("format", "csv")
        path = f"surveys/{self._seg(survey_id, 'survey id')}/export-responses"
        # Starting an export changes nothing anyone sees: a second start after an unanswered one
        # only makes a second file, so it may be repeated like a read.
        return self._result("POST", path, json=body, idempotent=True)

    def export_progress(self, survey_id: str, progress_id: str) -> dict[str, Any]:
        path = f"surveys/{self._seg(survey_id, 'survey id')}/export-responses/{self._seg(progress_id, 'export id')}"
        return self._result("GET", path)

    def download_export(
        self,
        survey_id: str,
        file_id: str,
        dest: str | os.PathLike[str],
        *,
        on_bytes: Callable[[int, int | None], None] | None = None,
    ) -> Path:
        """Stream the export file to `dest` (a file path, or a directory to put `{file_id}.zip` in).

        Written in chunks to a temporary file beside `dest` and renamed at the end, so memory
        stays bounded and a half-written file never carries the final name.
        """
        path = (
            f"surveys/{self._seg(survey_id, 'survey id')}/export-responses/{self._seg(file_id, 'export file id')}/file"
        )
        target = Path(dest)
        if target.is_dir():
            target = target / f"{file_id}.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        response = self._call("GET", path, stream=True)
        total = int(response.headers.get("Content-Length") or 0) or None
        received = 0
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".download-", suffix=".part")
        try:
            with response, os.fdopen(fd, "wb") as out:
                for chunk in response.iter_content(chunk_size=CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    if on_bytes is not None:
                        on_bytes(received, total)
            os.replace(tmp_name, target)
        except requests.RequestException as exc:
            Path(tmp_name).unlink(missing_ok=True)
            raise TransientError(f"The export download from Qualtrics broke off after {received} bytes.") from exc
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return target

    def export_responses(
        self,
        survey_id: str,
        *,
        dest_dir: str | os.PathLike[str],
        format: str = "csv",
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        continuation_token: str | None = None,
        allow_continuation: bool = False,
        on_progress: Callable[[int], None] | None = None,
        poll_interval: float = 1.0,
        max_wait: float = 600,
    ) -> ExportResult:
        """Start, poll and download an export (§6.2, [H]), unzipped into `dest_dir`.

        `startDate`/`endDate` filter on recordedDate and `endDate` is exclusive, so consecutive
        windows do not overlap. With `allow_continuation` (or a `continuation_token` from the
        previous export) Qualtrics returns a token that gives only responses recorded since.
        `on_progress` receives 0-100: the export job fills 0-90, the download 90-99, 100 at the end.
        """
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        body: dict[str, Any] = {"format": format}
        if start_date is not None:
            body["startDate"] = _iso(start_date)
        if end_date is not None:
            body["endDate"] = _iso(end_date)
        if allow_continuation:
            body["allowContinuation"] = True
        if continuation_token:
            body["continuationToken"] = continuation_token

        last_reported = -1

        def report(percent: float) -> None:
            nonlocal last_reported
            value = max(0, min(100, int(percent)))
            if on_progress is not None and value > last_reported:
                last_reported = value
                on_progress(value)

        report(0)
        started = self.start_export(survey_id, **body)
        progress_id = self._id_of(started, "progressId")
        token = started.get("continuationToken")
        deadline = time.monotonic() + max_wait
        status = started
        while True:
            state = str(status.get("status") or "").lower()
            report(float(status.get("percentComplete") or 0) * 0.9)
            if state == "complete" and status.get("fileId"):
                break
            if state == "failed":
                raise ExportFailedError(f"Qualtrics reported that the export of {survey_id} failed.")
            if time.monotonic() + poll_interval > deadline:
                raise TransientError(f"The Qualtrics export of {survey_id} did not finish within {max_wait:g} s.")
            # Polls are capped at 1000/min per brand (§10); the interval keeps us well below.
            time.sleep(poll_interval)
            status = self.export_progress(survey_id, progress_id)
        token = status.get("continuationToken") or token

        def on_bytes(received: int, total: int | None) -> None:
            if total:
                report(90 + 9 * received / total)

        part = dest / f".{status['fileId']}.download"
        try:
            self.download_export(survey_id, status["fileId"], part, on_bytes=on_bytes)
            path = self._unpack(part, dest, format)
        finally:
            part.unlink(missing_ok=True)
        report(100)
        return ExportResult(path=path, continuation_token=token, file_format=format)

    @staticmethod
    def _unpack(download: Path, dest: Path, file_format: str) -> Path:
        """Extract the one file of an export zip, streaming it; a non-zip body (compress=false,
        §6.2 [M]) is kept as it is under a name with the format's extension."""
        if not zipfile.is_zipfile(download):
            target = dest / f"export.{EXPORT_EXTENSIONS.get(file_format, file_format)}"
            os.replace(download, target)
            return target
        with zipfile.ZipFile(download) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if not members:
                raise QualtricsError("The Qualtrics export file was an empty zip.")
            info = members[0]
            # Only the base name is used, so a crafted member name cannot write outside dest.
            name = PurePosixPath(info.filename.replace("\\", "/")).name.strip() or "export"
            if name in (".", ".."):
                name = "export"
            target = dest / name
            written = 0
            with archive.open(info) as source, open(target, "wb") as out:
                while chunk := source.read(CHUNK):
                    written += len(chunk)
                    if written > MAX_EXTRACT_BYTES:
                        raise QualtricsError("The Qualtrics export unpacks to more than 4 GB; stopped.")
                    out.write(chunk)
        return target

    # XM Directory (§8) -----------------------------------------------------------------------

    def list_directories(self) -> list[dict[str, Any]]:
        return self._list("directories")

    def _contacts(self, directory_id: str) -> str:
        return f"directories/{self._seg(directory_id, 'directory id')}/contacts"

    def list_contacts(self, directory_id: str) -> list[dict[str, Any]]:
        return self._list(self._contacts(directory_id))

    def create_contact(self, directory_id: str, **fields: Any) -> str:
        """The new contact's id; after an unanswered create, the contact of the directory with the
        same email, or else extRef."""
        email, ext_ref = fields.get("email"), fields.get("extRef")
        return self._create_or_find(
            lambda: self._id_of(self._result("POST", self._contacts(directory_id), json=fields)),
            (lambda: self.find_contact_id(directory_id, email=email, ext_ref=ext_ref)) if email or ext_ref else None,
            "contact",
        )

    @staticmethod
    def _matching_contacts(contacts: list[dict[str, Any]], email: Any, ext_ref: Any) -> list[dict[str, Any]]:
        if email:
            wanted = str(email).strip().casefold()
            return [c for c in contacts if str(c.get("email") or "").strip().casefold() == wanted]
        return [c for c in contacts if ext_ref and str(c.get("extRef") or "") == str(ext_ref)]

    def find_contact_id(self, directory_id: str, *, email: Any = None, ext_ref: Any = None) -> str | None:
        """The id of the only directory contact with this email (or, without one, this extRef)."""
        found = self._only(self._matching_contacts(self.list_contacts(directory_id), email, ext_ref))
        return (found.get("contactId") or found.get("id")) if found else None

    def get_contact(self, directory_id: str, contact_id: str) -> dict[str, Any]:
        return self._result("GET", f"{self._contacts(directory_id)}/{self._seg(contact_id, 'contact id')}")

    def update_contact(self, directory_id: str, contact_id: str, **fields: Any) -> None:
        self._result("PUT", f"{self._contacts(directory_id)}/{self._seg(contact_id, 'contact id')}", json=fields)

    def delete_contact(self, directory_id: str, contact_id: str) -> None:
        self._result("DELETE", f"{self._contacts(directory_id)}/{self._seg(contact_id, 'contact id')}")

    def _lists(self, directory_id: str) -> str:
        return f"directories/{self._seg(directory_id, 'directory id')}/mailinglists"

    def list_mailing_lists(self, directory_id: str) -> list[dict[str, Any]]:
        return self._list(self._lists(directory_id))

    def get_mailing_list(self, directory_id: str, mailing_list_id: str) -> dict[str, Any]:
        return self._result("GET", f"{self._lists(directory_id)}/{self._seg(mailing_list_id, 'mailing list id')}")

    def _list_contacts(self, directory_id: str, mailing_list_id: str) -> str:
        return f"{self._lists(directory_id)}/{self._seg(mailing_list_id, 'mailing list id')}/contacts"

    def list_mailing_list_contacts(self, directory_id: str, mailing_list_id: str) -> list[dict[str, Any]]:
        return self._list(self._list_contacts(directory_id, mailing_list_id))

    def create_mailing_list_contact(self, directory_id: str, mailing_list_id: str, **fields: Any) -> dict[str, Any]:
        """Returns `{"id", "contactLookupId"}` (§8, [H]); after an unanswered create, those of the
        list's contact with the same email, or else extRef."""
        email, ext_ref = fields.get("email"), fields.get("extRef")

        def create() -> dict[str, Any]:
            result = self._result("POST", self._list_contacts(directory_id, mailing_list_id), json=fields)
            return {"id": self._id_of(result), "contactLookupId": (result or {}).get("contactLookupId")}

        def find() -> dict[str, Any] | None:
            return self.find_mailing_list_contact(directory_id, mailing_list_id, email=email, ext_ref=ext_ref)

        return self._create_or_find(create, find if email or ext_ref else None, "contact in the mailing list")

    def find_mailing_list_contact(
        self, directory_id: str, mailing_list_id: str, *, email: Any = None, ext_ref: Any = None
    ) -> dict[str, Any] | None:
        """`{"id", "contactLookupId"}` of the only list member with this email (or else extRef)."""
        members = self.list_mailing_list_contacts(directory_id, mailing_list_id)
        found = self._only(self._matching_contacts(members, email, ext_ref))
        if not found:
            return None
        return {"id": found.get("contactId") or found.get("id"), "contactLookupId": found.get("contactLookupId")}

    def get_mailing_list_contact(self, directory_id: str, mailing_list_id: str, contact_id: str) -> dict[str, Any]:
        path = f"{self._list_contacts(directory_id, mailing_list_id)}/{self._seg(contact_id, 'contact id')}"
        return self._result("GET", path)

    def update_mailing_list_contact(
        self, directory_id: str, mailing_list_id: str, contact_id: str, **fields: Any
    ) -> None:
        path = f"{self._list_contacts(directory_id, mailing_list_id)}/{self._seg(contact_id, 'contact id')}"
        self._result("PUT", path, json=fields)

    def delete_mailing_list_contact(self, directory_id: str, mailing_list_id: str, contact_id: str) -> None:
        path = f"{self._list_contacts(directory_id, mailing_list_id)}/{self._seg(contact_id, 'contact id')}"
        self._result("DELETE", path)

    # Event subscriptions (§9) ----------------------------------------------------------------

    def create_event_subscription(
        self, *, topics: str, publication_url: str, shared_key: str, encrypt: bool = False
    ) -> str:
        """Qualtrics POSTs form-encoded events to `publication_url`, signed with an HMAC-SHA512 of
        the MSG field keyed with `shared_key` (§9, [M]); there is no update, only delete+create."""
        if urlsplit(publication_url).scheme not in ("http", "https"):
            raise ValidationError(f"The publication URL {publication_url!r} must be an http(s) URL.")
        body = {"topics": topics, "publicationUrl": publication_url, "encrypt": bool(encrypt), "sharedKey": shared_key}
        return self._create_or_find(
            lambda: self._id_of(self._result("POST", "eventsubscriptions", json=body)),
            lambda: self.find_event_subscription_id(topics=topics, publication_url=publication_url),
            "event subscription",
        )

    def find_event_subscription_id(self, *, topics: str, publication_url: str) -> str | None:
        """The id of the only subscription of these topics to this publication URL."""
        return self._only(
            [
                s["id"]
                for s in self.list_event_subscriptions()
                if s.get("publicationUrl") == publication_url and s.get("topics") == topics
            ]
        )

    def get_event_subscription(self, subscription_id: str) -> dict[str, Any]:
        return self._result("GET", f"eventsubscriptions/{self._seg(subscription_id, 'subscription id')}")

    def list_event_subscriptions(self) -> list[dict[str, Any]]:
        return self._list("eventsubscriptions")

    def delete_event_subscription(self, subscription_id: str) -> None:
        self._result("DELETE", f"eventsubscriptions/{self._seg(subscription_id, 'subscription id')}")

    # Custom API Action -----------------------------------------------------------------------

    def request_raw(
        self,
        method: str,
        relative_url: str,
        *,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> RawResponse:
        """Any call under this configuration's API base, as a flow author wrote it.

        The URL and headers are checked before anything is sent: the result must stay under the
        API base (no other host, no climbing out of /API/v3/), and the author may not override
        the token or the request framing. Error statuses come back as a RawResponse so the flow
        can branch on them; 429 and 5xx are retried first like every other call.
        """
        verb = str(method or "").upper()
        if verb not in RAW_METHODS:
            raise UnsafeRequestError(f"The method {method!r} is not allowed here: use GET, POST, PUT or DELETE.")
        url = self.resolve_relative_url(relative_url)
        send_headers = self._check_headers(headers or {})
        kwargs: dict[str, Any] = {"headers": send_headers}
        if query:
            kwargs["params"] = {str(k): ("" if v is None else v) for k, v in query.items()}
        if body is not None:
            if isinstance(body, bytes):
                kwargs["data"] = body
            elif isinstance(body, str):
                kwargs["data"] = body.encode()
                if not any(k.lower() == "content-type" for k in send_headers):
                    send_headers["Content-Type"] = "application/json"
            else:
                kwargs["json"] = body
        # A query may not add a new path or host, but check what will really be sent.
        prepared_url = requests.Request(verb, url, params=kwargs.get("params")).prepare().url or url
        if not prepared_url.startswith(self.base_url):
            raise UnsafeRequestError(f"{relative_url!r} would leave the Qualtrics API base; the request was not sent.")
        response = self._call(verb, url, raise_for_status=False, **kwargs)
        return RawResponse(
            status_code=response.status_code, headers=dict(response.headers), body=self._raw_body(response)
        )

    @staticmethod
    def _raw_body(response: requests.Response) -> Any:
        if not response.content:
            return None
        content_type = response.headers.get("Content-Type", "")
        text = response.text
        if "json" in content_type or text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                pass
        return text

    def _check_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        clean: dict[str, str] = {}
        for name, value in headers.items():
            name = str(name)
            if not HEADER_NAME_RE.fullmatch(name):
                raise UnsafeRequestError(f"{name!r} is not a valid header name.")
            if name.lower() in RESERVED_HEADERS:
                raise UnsafeRequestError(
                    f"The header {name} cannot be set in a Custom API Action: the connector sets it itself."
                )
            text = str(value)
            if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in text):
                raise UnsafeRequestError(f"The value of header {name} contains line breaks or control characters.")
            clean[name] = text
        return clean

    def resolve_relative_url(self, relative_url: str) -> str:
        """The absolute URL for a path relative to the API base, or UnsafeRequestError.

        Deliberately strict: anything that a URL parser, a proxy or the server might read as a
        different host or a different path (schemes, `//`, backslashes, dot segments in any
        encoding, encoded slashes, `@`, IP literals, control characters) is refused.
        """
        raw = relative_url if isinstance(relative_url, str) else ""

        def refuse(reason: str) -> UnsafeRequestError:
            return UnsafeRequestError(
                f"The URL {relative_url!r} is not allowed: {reason}. Write a path relative to the Qualtrics API, "
                "such as 'surveys/SV_123/responses'. Nothing was sent."
            )

        if not raw.strip():
            raise refuse("it is empty")
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in raw):
            raise refuse("it contains spaces, line breaks or control characters")
        if not raw.isascii():
            raise refuse("it contains non-ASCII characters; percent-encode them")
        if "\\" in raw:
            raise refuse("it contains a backslash")
        if "@" in raw:
            raise refuse("it contains '@'")
        if "#" in raw:
            raise refuse("it contains a '#' fragment")
        if "[" in raw or "]" in raw:
            raise refuse("it contains an IP address literal")
        if raw.startswith("/"):
            raise refuse("it starts with '/', which would leave the API base")
        if SCHEME_RE.match(raw):
            raise refuse("it is an absolute URL; only paths under the API base are allowed")
        path, _, query = raw.partition("?")
        lowered = path.lower()
        if "%25" in lowered:
            raise refuse("it contains a double-encoded character (%25)")
        if "%2f" in lowered or "%5c" in lowered:
            raise refuse("it contains an encoded slash or backslash")
        decoded = unquote(path)
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in decoded) or "@" in decoded:
            raise refuse("it contains encoded control characters or '@'")
        segments = decoded.split("/")
        if any(segment in (".", "..") for segment in segments):
            raise refuse("it contains '.' or '..' path segments")
        if "" in segments[:-1]:
            raise refuse("it contains an empty path segment ('//')")
        if any(IPV4_RE.match(segment) for segment in segments):
            raise refuse("it contains an IP address")
        if ":" in segments[0]:
            raise refuse("its first segment contains ':', which reads as a URL scheme")
        url = urljoin(self.base_url, path)
        if not url.startswith(self.base_url) or posixpath.normpath(urlsplit(url).path) != urlsplit(url).path.rstrip(
            "/"
        ):
            raise refuse("it would resolve outside the API base")
        return f"{url}?{query}" if query else url


__all__ = ["ExportResult", "QualtricsClient", "RawResponse"]
