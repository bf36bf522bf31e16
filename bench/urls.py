"""The project's URLs plus ``/bench/floor``: the cheapest write Django can serve.

The floor view parses the same JSON body a task POST sends and does one
``INSERT … ON CONFLICT DO NOTHING RETURNING`` through the same middleware,
server and connection settings, so the gap between it and the task API is
what the API itself costs.
"""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from marketplace.urls import urlpatterns as project_urlpatterns

FLOOR_TABLE = "bench_floor"
# Created by the benchmark (bench is not an app and has no migrations).
FLOOR_TABLE_DDL = {
    "postgresql": (
        f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY, "
        "token varchar(120) NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())"
    ),
    "sqlite": (
        f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id integer PRIMARY KEY AUTOINCREMENT, "
        "token varchar(120) NOT NULL UNIQUE, created_at text NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    ),
}
FLOOR_INSERT = f"INSERT INTO {FLOOR_TABLE} (token) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id"


@csrf_exempt
@require_POST
def floor(request: HttpRequest) -> JsonResponse:
    try:
        token = str(json.loads(request.body)["external_id"])[:120]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"message": "Send JSON with an external_id."}, status=400)
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_INSERT, [token])
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"token": token}, status=200)
    return JsonResponse({"id": row[0], "token": token}, status=201)


urlpatterns = [
    path("bench/floor", floor, name="bench_floor"),
    *project_urlpatterns,
]
