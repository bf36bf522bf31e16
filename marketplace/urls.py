from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from analytics.api import MetricsApi
from payouts.views import stripe_webhook


def healthz(request):
    return JsonResponse({"status": "ok"})


api_v1 = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include("gigs.api_urls")),
    path("metrics", MetricsApi.as_view(), name="metrics"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include((api_v1, "api"))),
    path("healthz", healthz, name="healthz"),
    path("stripe/webhooks/", stripe_webhook, name="stripe_webhook"),
    path("", include("frontend.urls")),
]
