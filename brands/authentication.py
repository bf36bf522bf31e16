"""``Authorization: Bearer <api key>`` for the brand REST API."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import authentication, exceptions, permissions

from brands import services
from brands.models import ApiKey, Brand


@dataclass(frozen=True)
class ApiClient:
    """Who is calling: a brand, through one of its keys. Stands in for ``request.user``."""

    brand: Brand
    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    @property
    def email(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def __str__(self) -> str:
        return f"{self.brand} API key {self.api_key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not token.strip():
            raise exceptions.AuthenticationFailed(
                "Send the key as 'Authorization: Bearer <api key>'."
            )
        api_key = services.api_key_authenticate(raw_key=token.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("This API key is not valid or was revoked.")
        return ApiClient(brand=api_key.brand, api_key=api_key), api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class HasBrandApiKey(permissions.BasePermission):
    message = "Authenticate with 'Authorization: Bearer <api key>'."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ApiClient)
