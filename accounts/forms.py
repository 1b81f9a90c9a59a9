from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.cache import cache

from accounts.models import Role

MAX_FAILED_LOGINS = 5
LOCKOUT_SECONDS = 15 * 60


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses sign-in for a while after repeated wrong passwords for one username."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password do not match. Check both and try again.",
        "throttled": "Too many failed sign-ins for this username. Wait 15 minutes and try again.",
    }

    def _key(self) -> str:
        username = (self.data.get("username") or "").strip().lower()
        return f"login-failures:{username}"

    def clean(self):
        if cache.get(self._key(), 0) >= MAX_FAILED_LOGINS:
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            return super().clean()
        except forms.ValidationError:
            key = self._key()
            cache.add(key, 0, LOCKOUT_SECONDS)
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, LOCKOUT_SECONDS)
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
