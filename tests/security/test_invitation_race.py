"""One invitation link used by several people at the same moment: real concurrent sign-ups, each
in its own thread with its own database connection, as the server's request threads would be."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import Invitation, Membership, Role

SIGN_UPS = 8


@pytest.mark.django_db(transaction=True)
def test_eight_simultaneous_sign_ups_with_one_invitation_create_one_account_and_one_membership(team):
    invitation = services.invitation_create(team=team, email="shared@example.com", role=Role.EDITOR, invited_by=None)
    url = reverse("invitation_accept", args=[services.invitation_token(invitation)])
    users_before = get_user_model().objects.count()
    start = threading.Barrier(SIGN_UPS)
    statuses: list[int] = []

    def sign_up(number: int) -> None:
        try:
            client = Client()
            form = {
                "username": f"racer-{number}",
                "email": f"racer-{number}@example.com",
                "password1": "a-long-pass-phrase-1",
                "password2": "a-long-pass-phrase-1",
            }
            start.wait()
            statuses.append(client.post(url, form).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(SIGN_UPS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(statuses) == [302] + [400] * (SIGN_UPS - 1)
    assert get_user_model().objects.count() == users_before + 1
    joined = Membership.objects.filter(team=team, user__username__startswith="racer-")
    assert joined.count() == 1
    assert Invitation.objects.get(pk=invitation.pk).accepted_by == joined.get().user

