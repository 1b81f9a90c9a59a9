from django.contrib.auth.views import LogoutView
from django.urls import path

from accounts import api, config_views, views

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("team/", views.team_page, name="team"),
    path("team/new/", views.team_create, name="team_create"),
    path("team/switch/", views.team_switch, name="team_switch"),
    path("team/invite/", views.invitation_create, name="invitation_create"),
    path("team/members/<int:pk>/role/", views.membership_role, name="membership_role"),
    path("team/members/<int:pk>/remove/", views.membership_remove, name="membership_remove"),
    path("team/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("team/<int:pk>/rename/", views.team_rename, name="team_rename"),
    path("team/<int:pk>/delete/", views.team_delete, name="team_delete"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("configurations/", config_views.configuration_list, name="configurations"),
    path("configurations/new/", config_views.configuration_create, name="configuration_create"),
    path("configurations/<int:pk>/edit/", config_views.configuration_edit, name="configuration_edit"),
    path("configurations/<int:pk>/authorize/", config_views.configuration_authorize, name="configuration_authorize"),
    path("configurations/<int:pk>/delete/", config_views.configuration_delete, name="configuration_delete"),
    path("api/configurations/", api.ConfigurationListApi.as_view(), name="api_configurations"),
    path("api/configurations/<int:pk>/", api.ConfigurationDetailApi.as_view(), name="api_configuration"),
    path("api/configurations/<int:pk>/authorize/", api.ConfigurationAuthorizeApi.as_view(), name="api_configuration_authorize"),
]
