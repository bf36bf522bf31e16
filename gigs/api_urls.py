"""Brand REST API routes, mounted at /api/v1/ (paths have no trailing slash)."""

from django.urls import path

from gigs import api

urlpatterns = [
    path("gigs", api.GigListCreateApi.as_view(), name="gig_list"),
    path("gigs/<int:gig_id>", api.GigDetailApi.as_view(), name="gig_detail"),
    path("tasks", api.TaskListCreateApi.as_view(), name="task_list"),
    path("tasks/<int:task_id>", api.TaskDetailApi.as_view(), name="task_detail"),
    path(
        "tasks/<int:task_id>/messages",
        api.TaskMessageCreateApi.as_view(),
        name="task_message_create",
    ),
    path("tasks/<int:task_id>/csat", api.TaskCsatApi.as_view(), name="task_csat_create"),
]
