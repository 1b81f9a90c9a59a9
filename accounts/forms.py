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
