from django.urls import path

from designer import views

urlpatterns = [
    path("flows/", views.flow_list, name="flows"),
    path("runs/", views.run_list, name="runs"),
]
