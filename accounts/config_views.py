"""Pages for Qualtrics configurations. Thin: parse, call a service, render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import configurations as services
from accounts.models import Role
from accounts.permissions import team_required
from accounts.selectors import configuration_can_manage, configurations_visible
from designer.services import flows_using_configuration


class ConfigurationForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Something unique, so you can tell configurations apart.")
    datacenter = forms.CharField(
        label="Data Center ID", max_length=30,
        help_text="The subdomain of your Qualtrics address: us1 in us1.qualtrics.com.",
    )
    api_token = forms.CharField(
        label="API Token", required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Account Settings → Qualtrics IDs → API → Token.",
    )
    username = forms.CharField(max_length=150, required=False, help_text="What you use to sign in to Qualtrics.")
    shared = forms.BooleanField(required=False, label="Share with my team")


def _get(request, pk: int, *, manage: bool = False):
    configuration = get_object_or_404(configurations_visible(membership=request.membership), pk=pk)
    if manage and not configuration_can_manage(membership=request.membership, configuration=configuration):
        raise PermissionDenied("Only the creator, or a team owner or admin for shared ones, can change this configuration.")
    return configuration


@team_required()
def configuration_list(request):
    items = [
        (c, configuration_can_manage(membership=request.membership, configuration=c))
        for c in configurations_visible(membership=request.membership)
    ]
    return render(request, "accounts/configuration_list.html", {"items": items})


@team_required(Role.EDITOR)
def configuration_create(request):
    form = ConfigurationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            configuration = services.configuration_create(membership=request.membership, **form.cleaned_data)
        except services.ConfigurationInputError as exc:
            form.add_error(exc.field, exc.message)
        else:
            _report(request, configuration)
            return redirect("configurations")
    return render(request, "accounts/configuration_form.html", {"form": form, "creating": True})


@team_required(Role.EDITOR)
def configuration_edit(request, pk: int):
    configuration = _get(request, pk, manage=True)
    initial = {f: getattr(configuration, f) for f in ("name", "datacenter", "username", "shared")}
    form = ConfigurationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            configuration = services.configuration_update(configuration=configuration, **form.cleaned_data)
        except services.ConfigurationInputError as exc:
            form.add_error(exc.field, exc.message)
        else:
            _report(request, configuration, saved=True)
            return redirect("configurations")
    return render(request, "accounts/configuration_form.html", {"form": form, "configuration": configuration})


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
    flows = flows_using_configuration(configuration=configuration)
    return render(request, "accounts/configuration_delete.html", {"configuration": configuration, "flows": flows})


def _report(request, configuration, saved: bool = False) -> None:
    prefix = f"Saved “{configuration.name}”. " if saved else ""
    if configuration.status == "authorized":
        messages.success(request, f"{prefix}“{configuration.name}” is authorized as {configuration.qualtrics_user_name}.")
    else:
        messages.error(request, f"{prefix}“{configuration.name}” is not authorized: {configuration.status_message}")
