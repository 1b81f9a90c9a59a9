from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from accounts import services
from accounts.models import Role


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses sign-in for a while after repeated wrong passwords for one username, or from one
    client address (accounts.services.login_lockout)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password do not match. Check both and try again.",
        "throttled": "Too many failed sign-ins for this username. Wait 15 minutes and try again.",
        "throttled_address": "Too many failed sign-ins from your network. Wait 15 minutes and try again.",
    }

    def _who(self) -> dict[str, str]:
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        return {"username": self.data.get("username") or "", "address": address}

    def clean(self):
        locked = services.login_lockout(**self._who())
        if locked == "username":
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        if locked == "address":
            raise forms.ValidationError(self.error_messages["throttled_address"], code="throttled")
        try:
            return super().clean()
        except forms.ValidationError:
            services.login_failure_record(**self._who())
            raise


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100, label="Team name")


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class ConfigurationForm(forms.Form):
    """A connection of one connector: its name, its credential fields (named by their keys) and
    sharing. Secret fields are password inputs that are never filled back; on an edit a blank one
    keeps the stored secret. The service does the checking (required fields, the connector's own)."""

    name = forms.CharField(max_length=100)
    shared = forms.BooleanField(required=False, label="Share with my team")

    def __init__(self, *args, connector, configuration=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.connector = connector
        self.configuration = configuration
        label = connector.connection_label
        self.fields["name"].help_text = f"Something unique, so you can tell {label}s apart."
        shared = self.fields.pop("shared")
        for spec in connector.credentials:
            attrs = {}
            if spec.secret:
                widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
            else:
                widget = forms.TextInput(attrs={"autocomplete": "off"})
            required = spec.required and not (spec.secret and configuration is not None and configuration.secret_set)
            self.fields[spec.key] = forms.CharField(
                label=spec.label, required=False, strip=True, widget=widget, help_text=spec.help,
            )
            attrs["aria-describedby"] = f"id_{spec.key}_help"
            if required:
                attrs["aria-required"] = "true"
            self.fields[spec.key].widget.attrs.update(attrs)
            self.fields[spec.key].secret = spec.secret
            self.fields[spec.key].shown_required = required
        self.fields["name"].widget.attrs["aria-describedby"] = "id_name_help"
        self.fields["shared"] = shared

    def credentials(self) -> dict[str, str]:
        return {spec.key: self.cleaned_data.get(spec.key) or "" for spec in self.connector.credentials}
