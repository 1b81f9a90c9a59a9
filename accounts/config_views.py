"""Pages for configurations (the saved connections of any connector). Thin: parse, call a
service, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import configurations as services
from accounts.forms import ConfigurationForm
from accounts.models import Role
from accounts.permissions import team_required
from accounts.selectors import configuration_can_manage, configurations_visible


def _get(request, pk: int, *, manage: bool = False):
    configuration = get_object_or_404(configurations_visible(membership=request.membership), pk=pk)
    if manage and not configuration_can_manage(membership=request.membership, configuration=configuration):
        raise PermissionDenied("Only the creator, or a team owner or admin for shared ones, can change this configuration.")
    return configuration


def _connector_of(configuration):
    try:
        return services.connector_for(configuration.connector)
    except services.ConfigurationInputError:
        raise Http404(f"The connector “{configuration.connector}” of this configuration is not on this server.") from None


@team_required()
def configuration_list(request):
    items = [
        (c, configuration_can_manage(membership=request.membership, configuration=c))
        for c in configurations_visible(membership=request.membership)
    ]
    return render(request, "accounts/configuration_list.html", {"items": items})


@team_required(Role.EDITOR)
def configuration_create(request):
    choices = services.connectors_with_credentials()
    key = request.GET.get("connector") or request.POST.get("connector") or ""
    if not key:
        if len(choices) != 1:
            return render(request, "accounts/configuration_connector.html", {"connectors": choices})
        key = choices[0].key
    try:
        connector = services.connector_for(key)
    except services.ConfigurationInputError as exc:
        raise Http404(exc.message) from None
    form = ConfigurationForm(request.POST or None, connector=connector)
    if request.method == "POST" and form.is_valid():
        try:
            configuration = services.configuration_create(
                membership=request.membership, connector=connector.key, name=form.cleaned_data["name"],
                credentials=form.credentials(), shared=form.cleaned_data["shared"],
            )
        except services.ConfigurationInputError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            _report(request, configuration)
            return redirect("configurations")
    return render(request, "accounts/configuration_form.html", {
        "form": form, "creating": True, "connector": connector, "choose_other": len(choices) > 1,
        "action": f"{reverse('configuration_create')}?connector={connector.key}",
    })


@team_required(Role.EDITOR)
def configuration_edit(request, pk: int):
    configuration = _get(request, pk, manage=True)
    connector = _connector_of(configuration)
    initial = {"name": configuration.name, "shared": configuration.shared}
    secret_keys = {f.key for f in connector.credentials if f.secret}
    initial.update({k: v for k, v in (configuration.public_credentials or {}).items() if k not in secret_keys})
    form = ConfigurationForm(request.POST or None, initial=initial, connector=connector, configuration=configuration)
    if request.method == "POST" and form.is_valid():
        try:
            configuration = services.configuration_update(
                configuration=configuration, name=form.cleaned_data["name"], credentials=form.credentials(),
                shared=form.cleaned_data["shared"],
            )
        except services.ConfigurationInputError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            _report(request, configuration, saved=True)
            return redirect("configurations")
    return render(request, "accounts/configuration_form.html", {
        "form": form, "configuration": configuration, "connector": connector,
        "action": reverse("configuration_edit", args=[configuration.pk]),
    })


@team_required(Role.EDITOR)
@require_POST
def configuration_authorize(request, pk: int):
    configuration = services.configuration_authorize(configuration=_get(request, pk, manage=True))
    _report(request, configuration)
    return redirect("configurations")


@team_required(Role.EDITOR)
def configuration_delete(request, pk: int):
    configuration = _get(request, pk, manage=True)
    if request.method == "POST":
        names = services.configuration_delete(configuration=configuration)
        note = f" These flows are now inactive: {', '.join(names)}." if names else ""
        messages.success(request, f"Deleted “{configuration.name}”.{note}")
        return redirect("configurations")
    flows = services.configuration_user_names(configuration=configuration)
    return render(request, "accounts/configuration_delete.html", {"configuration": configuration, "flows": flows})


def _report(request, configuration, saved: bool = False) -> None:
    prefix = f"Saved “{configuration.name}”. " if saved else ""
    if configuration.status == "authorized":
        who = configuration.account_name or configuration.account_id
        messages.success(request, f"{prefix}“{configuration.name}” is authorized as {who}.")
    else:
        messages.error(request, f"{prefix}“{configuration.name}” is not authorized: {configuration.status_message}")
