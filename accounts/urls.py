from django.contrib.auth.views import LogoutView
from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("team/", views.team_page, name="team"),
    path("team/new/", views.team_create, name="team_create"),
    path("team/switch/", views.team_switch, name="team_switch"),
    path("team/invite/", views.invitation_create, name="invitation_create"),
    path("team/members/<int:pk>/role/", views.membership_role, name="membership_role"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("configurations/", views.team_page, name="configurations"),
]
