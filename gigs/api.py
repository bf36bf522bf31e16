"""The brand REST API for gigs and tasks: parse, call one service, serialise.

Every view works on ``request.user.brand``, the brand of the API key that
authenticated (``brands.authentication.ApiKeyAuthentication``). Another
brand's objects answer 404 (or "No such gig." when referenced in a body),
never 403, so ids cannot be probed across tenants. POSTs honour
``Idempotency-Key`` (``marketplace.idempotency``).
"""

from __future__ import annotations

from django.http import QueryDict
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from gigs.filters import GigFilter, TaskFilter
from gigs.models import Gig, Task, TaskPriority
from gigs.selectors import access_gig, access_task, gig_list, task_list
from gigs.serializers import (
    PRIORITY_NAMES,
    CsatCreateSerializer,
    ErrorSerializer,
    GigCreateSerializer,
    GigSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    TaskCreateSerializer,
    TaskCsatSerializer,
    TaskDetailSerializer,
    TaskSerializer,
    task_representation,
)
from gigs.services import TaskInput, gig_create, message_add, parse_priority, task_create
from gigs.work import task_rate
from marketplace.idempotency import IDEMPOTENCY_HEADER, REPLAYED_HEADER, idempotent


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer <api key>`` in the OpenAPI schema."""

    target_class = "brands.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "gdk_<prefix>_<secret>",
            "description": "A brand API key, created in the brand console under API keys.",
        }


class BrandFilterBackend(DjangoFilterBackend):
    """django-filter, told which brand is asking.

    ``TaskFilter`` takes ``brand`` so that its ``gig`` filter only accepts
    the brand's own gigs; a view may also rewrite query parameters first
    (``filter_query_params``).
    """

    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        if getattr(view, "filterset_takes_brand", False):
            kwargs["brand"] = request.user.brand
        rewrite = getattr(view, "filter_query_params", None)
        if rewrite is not None:
            kwargs["data"] = rewrite(kwargs["data"])
        return kwargs


# --- Shared schema pieces -----------------------------------------------------

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string up to 255 characters, e.g. a UUID. Sending the same request "
        "again with the same key replays the first response (with the header "
        f"`{REPLAYED_HEADER}: true`) instead of acting twice. Keys are kept for at "
        "least 24 hours, per API key."
    ),
)
_ERROR = ErrorSerializer
_AUTH_ERRORS = {
    401: OpenApiResponse(_ERROR, description="Missing, invalid or revoked API key."),
}
_POST_ERRORS = {
    400: OpenApiResponse(_ERROR, description="Invalid fields or malformed JSON; see `fields`."),
    **_AUTH_ERRORS,
    409: OpenApiResponse(
        _ERROR,
        description="A request with the same Idempotency-Key is still running; "
        "retry after `Retry-After` seconds.",
    ),
    415: OpenApiResponse(_ERROR, description="The body is not `application/json`."),
    422: OpenApiResponse(
        _ERROR, description="The Idempotency-Key was already used for a different request."
    ),
}


class BrandApiView(GenericAPIView):
    """Base for the brand API: the caller's brand and the shared filter backend."""

    filter_backends = [BrandFilterBackend]

    @property
    def brand(self):
        return self.request.user.brand

    def paginated(self, queryset, serializer_class) -> Response:
        page = self.paginate_queryset(self.filter_queryset(queryset))
        return self.get_paginated_response(serializer_class(page, many=True).data)


# --- Gigs -----------------------------------------------------------------------


class GigListCreateApi(BrandApiView):
    # The default is empty, so that forgetting to scope returns nothing;
    # get_queryset is the brand-scoped read.
    queryset = Gig.objects.none()
    serializer_class = GigSerializer
    filterset_class = GigFilter

    def get_queryset(self):
        return gig_list(brand=self.brand)

    @extend_schema(
        operation_id="gigs_list",
        summary="List your gigs",
        description="Newest first, cursor-paginated: follow `next` until it is null.",
        responses={200: GigSerializer(many=True), 400: _ERROR, **_AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), GigSerializer)

    @extend_schema(
        operation_id="gigs_create",
        summary="Create a gig",
        description=(
            "Creates an active gig. `required_skills` are skill slugs; unknown ones are "
            "refused by name. The audit log records the API key as the actor."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=GigCreateSerializer,
        responses={201: GigSerializer, **_POST_ERRORS},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = GigCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        skills = fields.pop("required_skills", [])
        # The API client is no user: the gig has no creator and the audit
        # log names the key ("api-key:<prefix>").
        gig = gig_create(
            brand=self.brand, created_by=request.user, skills=skills, request=request, **fields
        )
        return Response(GigSerializer(gig).data, status=status.HTTP_201_CREATED)


class GigDetailApi(BrandApiView):
    queryset = Gig.objects.none()
    serializer_class = GigSerializer

    @extend_schema(
        operation_id="gigs_retrieve",
        summary="Read one gig",
        description="One of your gigs; any other id answers 404.",
        responses={200: GigSerializer, **_AUTH_ERRORS, 404: _ERROR},
    )
    def get(self, request: Request, gig_id: int) -> Response:
        gig = access_gig(brand=self.brand, gig_id=gig_id)
        return Response(GigSerializer(gig).data)


# --- Tasks ----------------------------------------------------------------------


class TaskListCreateApi(BrandApiView):
    queryset = Task.objects.none()
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    filterset_takes_brand = True

    def get_queryset(self):
        return task_list(brand=self.brand)

    def filter_query_params(self, params: QueryDict) -> QueryDict:
        """Accept ``priority=high`` as well as ``priority=30``: responses show the name."""
        value = params.get("priority", "")
        if value.strip().lower() in PRIORITY_NAMES:
            params = params.copy()
            params["priority"] = str(parse_priority(value))
        return params

    @extend_schema(
        operation_id="tasks_list",
        summary="List your tasks",
        description=(
            "Newest first, cursor-paginated: follow `next` until it is null. No total "
            "count is computed, so pages stay fast however many tasks there are. "
            "`priority` also accepts a name (low, normal, high, urgent). Messages are "
            "not included; read one task for its conversation."
        ),
        parameters=[
            OpenApiParameter(
                name="priority",
                type=str,
                location=OpenApiParameter.QUERY,
                required=False,
                enum=[*PRIORITY_NAMES, *(str(value) for value in TaskPriority.values)],
                description="A priority name or its number.",
            )
        ],
        responses={200: TaskSerializer(many=True), 400: _ERROR, **_AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), TaskSerializer)

    @extend_schema(
        operation_id="tasks_create",
        summary="Send a task",
        description=(
            "Creates a task in one of your gigs, with the customer's first message "
            "if `body` is given. With an `external_id` the brand already used, nothing "
            "is created and the existing task is returned with 200."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=TaskCreateSerializer,
        responses={
            201: OpenApiResponse(TaskSerializer, description="The task was created."),
            200: OpenApiResponse(
                TaskSerializer,
                description="A task with this `external_id` already exists; it is "
                "returned unchanged.",
            ),
            **_POST_ERRORS,
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = TaskCreateSerializer(data=request.data, context={"brand": self.brand})
        serializer.is_valid(raise_exception=True)
        task, created = task_create(
            brand=self.brand, data=TaskInput(**serializer.validated_data), actor=request.user
        )
        return Response(
            task_representation(task),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class TaskDetailApi(BrandApiView):
    queryset = Task.objects.none()
    serializer_class = TaskDetailSerializer

    @extend_schema(
        operation_id="tasks_retrieve",
        summary="Read one task with its conversation",
        description="One of your tasks with its messages, oldest first; any other id answers 404.",
        responses={200: TaskDetailSerializer, **_AUTH_ERRORS, 404: _ERROR},
    )
    def get(self, request: Request, task_id: int) -> Response:
        task = access_task(brand=self.brand, task_id=task_id, with_messages=True)
        return Response(TaskDetailSerializer(task).data)


class TaskMessageCreateApi(BrandApiView):
    queryset = Task.objects.none()
    serializer_class = MessageSerializer

    @extend_schema(
        operation_id="tasks_messages_create",
        summary="Add a customer message or an internal note to a task",
        description=(
            "Agents reply from their workspace, so `kind` is `customer` (the default) "
            "or `note`. With an `external_id` already on the task, nothing is added "
            "and the existing message is returned with 200."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=MessageCreateSerializer,
        responses={
            201: OpenApiResponse(MessageSerializer, description="The message was added."),
            200: OpenApiResponse(
                MessageSerializer,
                description="A message with this `external_id` is already on the task; "
                "it is returned unchanged.",
            ),
            **_POST_ERRORS,
            404: OpenApiResponse(_ERROR, description="No such task among yours."),
        },
    )
    @idempotent
    def post(self, request: Request, task_id: int) -> Response:
        task = access_task(brand=self.brand, task_id=task_id)
        serializer = MessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message, created = message_add(task=task, **serializer.validated_data)
        return Response(
            MessageSerializer(message).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class TaskCsatApi(BrandApiView):
    queryset = Task.objects.none()
    serializer_class = TaskCsatSerializer

    @extend_schema(
        operation_id="tasks_csat_create",
        summary="Record the customer's satisfaction rating (CSAT)",
        description=(
            "For brands whose customers rate in their own helpdesk. A task is rated once, "
            "after it is resolved. Sending the same rating again (same `score` and "
            "`comment`) returns it unchanged; a different one is refused with 409."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=CsatCreateSerializer,
        responses={
            200: OpenApiResponse(TaskCsatSerializer, description="The task's rating."),
            **_POST_ERRORS,
            404: OpenApiResponse(_ERROR, description="No such task among yours."),
            409: OpenApiResponse(
                _ERROR,
                description="`not_resolved`: the task is not resolved; `already_rated`: it "
                "has another rating; or a request with the same Idempotency-Key is still "
                "running.",
            ),
        },
    )
    @idempotent
    def post(self, request: Request, task_id: int) -> Response:
        task = access_task(brand=self.brand, task_id=task_id)
        serializer = CsatCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = task_rate(task=task, **serializer.validated_data)
        return Response(TaskCsatSerializer(task).data)
