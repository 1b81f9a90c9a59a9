"""Error pages: the REST API answers JSON like its own views do, pages stay HTML."""

from __future__ import annotations

import logging

from django.http import HttpResponseServerError, JsonResponse
from django.template import loader
from django.views.defaults import page_not_found, permission_denied

logger = logging.getLogger(__name__)

# Served when even 500.html cannot be rendered (a broken template setting, say).
PLAIN_SERVER_ERROR = (
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Something went wrong</title></head>"
    "<body><h1>Something went wrong</h1><p>The server could not finish this request.</p>"
    "<p><a href=\"/\">Back to your flows</a></p></body></html>"
)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def forbidden(request, exception):
    if _is_api(request):
        message = str(exception) if exception and str(exception) else "You do not have permission to do this."
        return JsonResponse({"detail": message}, status=403)
    return permission_denied(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "Server error: the request could not be finished. It has been logged."}, status=500)
    # No request context: a context processor reading the database would fail again here.
    try:
        body = loader.get_template("500.html").render()
    except Exception:
        logger.exception("The 500 page could not be rendered")
        body = PLAIN_SERVER_ERROR
    return HttpResponseServerError(body)
