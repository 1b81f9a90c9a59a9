from django.urls import path

from designer import api, views, webhooks

urlpatterns = [
    path("flows/", views.flow_list, name="flows"),
    path("flows/new/", views.flow_create, name="flow_create"),
    path("flows/import/", views.flow_import, name="flow_import"),
    path("flows/<int:pk>/edit/", views.flow_editor, name="flow_editor"),
    path("flows/<int:pk>/status/", views.flow_status, name="flow_status"),
    path("flows/<int:pk>/<str:action>/", views.flow_action, name="flow_action"),
    path("runs/", views.run_list, name="runs"),
    path("runs/rerun/", views.run_rerun, name="run_rerun"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("hooks/qualtrics/<int:activation_id>/<str:secret>/", webhooks.qualtrics_webhook, name="qualtrics_webhook"),
    path("api/flows/", api.FlowListApi.as_view(), name="api_flows"),
    path("api/flows/import/", api.FlowImportApi.as_view(), name="api_flow_import"),
    path("api/flows/<int:pk>/", api.FlowDetailApi.as_view(), name="api_flow"),
    path("api/flows/<int:pk>/duplicate/", api.FlowDuplicateApi.as_view(), name="api_flow_duplicate"),
    path("api/flows/<int:pk>/versions/", api.FlowVersionListApi.as_view(), name="api_flow_versions"),
    path("api/flows/<int:pk>/versions/<int:number>/", api.FlowVersionDetailApi.as_view(), name="api_flow_version"),
    path("api/flows/<int:pk>/versions/<int:number>/restore/", api.FlowVersionRestoreApi.as_view(), name="api_flow_version_restore"),
    path("api/flows/<int:pk>/export/", api.FlowExportApi.as_view(), name="api_flow_export"),
    path("api/flows/<int:pk>/activate/", api.FlowActivateApi.as_view(), name="api_flow_activate"),
    path("api/flows/<int:pk>/deactivate/", api.FlowDeactivateApi.as_view(), name="api_flow_deactivate"),
    path("api/flows/<int:pk>/activation/", api.FlowActivationApi.as_view(), name="api_flow_activation"),
    path("api/flows/<int:pk>/test/", api.FlowTestApi.as_view(), name="api_flow_test"),
    path("api/flows/<int:pk>/recent-responses/", api.FlowRecentResponsesApi.as_view(), name="api_flow_recent_responses"),
    path("api/files/", api.FileUploadApi.as_view(), name="api_files"),
    path("api/runs/", api.RunListApi.as_view(), name="api_runs"),
    path("api/runs/rerun/", api.RunBulkRerunApi.as_view(), name="api_runs_rerun"),
    path("api/runs/<int:pk>/", api.RunDetailApi.as_view(), name="api_run"),
    path("api/runs/<int:pk>/rerun/", api.RunRerunApi.as_view(), name="api_run_rerun"),
]
