"""``GET /api/v1/metrics``: the dashboard's figures for a brand's own tools.

The query parameters are the dashboard's filters (``MetricFilter``), so a
period or filter the dashboard refuses is refused here too, as a 400 naming
the parameter; the figures are ``Figures.as_dict()``, as in the exports.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.filters import DEFAULT_DAYS, MetricFilter
from analytics.models import MetricHour
from analytics.serializers import (
    GROUP_BY_CHOICES,
    MetricsQuerySerializer,
    MetricsSerializer,
    metrics_representation,
)
from brands.models import PoolTier
from gigs.api import BrandApiView
from gigs.serializers import ErrorSerializer
from marketplace.languages import LANGUAGE_CHOICES

_PARAMETERS = [
    OpenApiParameter(
        name="start",
        type=str,
        location=OpenApiParameter.QUERY,
        required=False,
        description=(
            "First day of the period (YYYY-MM-DD), in your brand's time zone. "
            f"Defaults to {DEFAULT_DAYS - 1} days before `end`."
        ),
    ),
    OpenApiParameter(
        name="end",
        type=str,
        location=OpenApiParameter.QUERY,
        required=False,
        description=(
            "Last day of the period (YYYY-MM-DD), included; defaults to today in your "
            "brand's time zone. Not before `start`; the period is at most two years."
        ),
    ),
    OpenApiParameter(
        name="gig",
        type=int,
        location=OpenApiParameter.QUERY,
        required=False,
        description="Only this gig (one of yours; any other id is refused).",
    ),
    OpenApiParameter(
        name="language",
        type=str,
        location=OpenApiParameter.QUERY,
        required=False,
        enum=[code for code, _ in LANGUAGE_CHOICES],
        description="Only tasks in this language (ISO 639-1 code); one your brand works in "
        "(its gigs' languages or any its figures hold), any other is refused.",
    ),
    OpenApiParameter(
        name="agent",
        type=int,
        location=OpenApiParameter.QUERY,
        required=False,
        description="Only this agent's figures (a user id of your pool; any other is refused).",
    ),
    OpenApiParameter(
        name="tier",
        type=int,
        location=OpenApiParameter.QUERY,
        required=False,
        enum=list(PoolTier.values),
        description="Only agents of your pool with this tier, 1 (new) to 5 (top).",
    ),
    OpenApiParameter(
        name="group_by",
        type=str,
        location=OpenApiParameter.QUERY,
        required=False,
        enum=[value for value, _ in GROUP_BY_CHOICES],
        default="none",
        description="Split the figures into `groups`: "
        + "; ".join(f"`{value}`: {label.lower()}" for value, label in GROUP_BY_CHOICES)
        + ".",
    ),
]


class MetricsApi(BrandApiView):
    # No list of objects here; the default is empty so an unscoped read finds nothing.
    queryset = MetricHour.objects.none()
    serializer_class = MetricsSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        operation_id="metrics_retrieve",
        summary="Read your support metrics",
        description=(
            "The figures of your analytics dashboard (definitions in the metrics "
            "guide) for a period and filters, from the hourly roll-ups: they can lag "
            "the live queue by a few minutes. Rates are percentages and `null` where "
            "nothing was counted; money is in minor units, one entry per currency."
        ),
        parameters=_PARAMETERS,
        responses={
            200: MetricsSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="A refused parameter, named in `fields`: a bad date or "
                "range, a gig or agent that is not yours, an unknown language, tier or "
                "`group_by`, or an unknown parameter.",
            ),
            401: OpenApiResponse(
                ErrorSerializer, description="Missing, invalid or revoked API key."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        query = MetricsQuerySerializer(data=request.query_params)
        query_valid = query.is_valid()
        errors = {} if query_valid else dict(query.errors)
        # Dates out of range are not handed to the filter, whose period
        # arithmetic cannot hold them.
        if not ({"start", "end"} & set(errors)):
            filterset = MetricFilter(request.query_params, brand=self.brand)
            if not filterset.is_valid():
                errors.update(filterset.errors)
        if errors:
            raise serializers.ValidationError(errors)
        return Response(metrics_representation(filterset, query.validated_data["group_by"]))
