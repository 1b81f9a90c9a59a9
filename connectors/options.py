"""Services behind the editor's pickers: choices loaded from an account through a connector's
option sources, and a card's outputs for the options chosen (a survey's questions, say).

`configuration` is a stored connection: anything with `pk`, `name`, `connector` and
`credentials`. Answers are cached for a minute per connection and credentials, so opening the
same picker twice does not call the service twice, and new credentials never see choices loaded
with the old ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from typing import Any

from django.core.cache import cache
from django.utils.crypto import salted_hmac

from connectors.http import ConnectorError
from connectors.registry import UnknownConnectorError, registry
from connectors.specs import Card, Field

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60
# A picker waits for the service while someone watches: one quick retry, not the engine's minute.
CLIENT_OPTIONS: dict[str, Any] = {"timeout": (5, 20), "max_retries": 1, "max_retry_seconds": 5}


class OptionsError(Exception):
    """Choices or outputs could not be loaded; `message` is for the person editing the flow.

    `status` is 400 when the request or the account is at fault (bad token, missing right,
    unknown id) and 502 when the service itself failed or is rate limiting.
    """

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


# Plumbing ----------------------------------------------------------------------------------------


def _cache_key(configuration: Any, kind: str, params: Mapping[str, Any]) -> str:
    credentials = json.dumps(configuration.credentials, sort_keys=True, default=str)
    fingerprint = salted_hmac("connectors.options.credentials", credentials, algorithm="sha256").hexdigest()[:16]
    params_digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return f"connectors:{kind}:{configuration.pk}:{fingerprint}:{params_digest}"


def explain(exc: ConnectorError, configuration: Any) -> OptionsError:
    """A connector's failure in words for the editor (its own wording), with the status the API
    answers: 502 when the service failed or is rate limiting, 400 when the request or the
    account is at fault."""
    message = registry.connector(configuration.connector).describe_error(exc, configuration.name)
    upstream = exc.status == 429 or (exc.status or 0) >= 500 or (exc.status is None and exc.retryable)
    return OptionsError(message, status=502 if upstream else 400)


@contextmanager
def _service_calls(configuration: Any):
    try:
        yield
    except ConnectorError as exc:
        logger.info(
            "Loading choices with configuration %s failed: %s (status %s, request id %s)",
            configuration.pk,
            type(exc).__name__,
            exc.status,
            exc.request_id,
        )
        raise explain(exc, configuration) from exc


def _client(configuration: Any):
    return registry.connector(configuration.connector).client(configuration.credentials, **CLIENT_OPTIONS)


def _cached(key: str, load: Callable[[], Any], *, refresh: bool) -> Any:
    if not refresh:
        found = cache.get(key)
        if found is not None:
            return found
    value = load()
    cache.set(key, value, CACHE_SECONDS)
    return value


# Services ----------------------------------------------------------------------------------------


def option_choices(
    *, configuration: Any, source: str, params: Mapping[str, Any], refresh: bool = False
) -> list[dict[str, str]]:
    """`[{"value", "label"}]` for a picker, loaded from the configuration's account."""
    try:
        connector = registry.connector(configuration.connector)
    except UnknownConnectorError as exc:
        raise OptionsError(str(exc), status=404) from None
    found = connector.source(source)
    if found is None:
        known = ", ".join(s.key for s in connector.sources) or "none"
        raise OptionsError(f"There is no option source '{source}'. Known sources: {known}.", status=404)
    needed = {}
    for param in found.params:
        value = str(params.get(param) or "").strip()
        if not value:
            raise OptionsError(f"Choose {found.param_labels.get(param, param)} first to load its {found.label}.")
        needed[param] = value

    def load() -> list[dict[str, str]]:
        with _service_calls(configuration):
            client = _client(configuration)
            try:
                return found.load(client, **needed)
            finally:
                client.close()

    return _cached(_cache_key(configuration, f"options:{source}", needed), load, refresh=refresh)


def card_outputs(
    *, card: Card, configuration: Any | None, options: Mapping[str, Any], refresh: bool = False
) -> list[dict[str, Any]]:
    """A card's outputs as catalog fields: the declared ones, plus those its chosen options add."""
    declared = [f.to_json() for f in card.outputs]
    chosen = {f.key: str(options[f.key]).strip() for f in card.options if str(options.get(f.key) or "").strip()}
    if card.dynamic_outputs is None or not chosen:
        return declared
    if configuration is None:
        raise OptionsError("Choose a configuration to load the outputs for these options.")
    dynamic_outputs = card.dynamic_outputs

    def load() -> list[dict[str, Any]]:
        with _service_calls(configuration):
            client = _client(configuration)
            try:
                extra: tuple[Field, ...] = dynamic_outputs(client, chosen)
            finally:
                client.close()
        return [f.to_json() for f in extra]

    extra = _cached(_cache_key(configuration, f"outputs:{card.key}", chosen), load, refresh=refresh)
    return declared + extra
