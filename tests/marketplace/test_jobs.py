from datetime import timedelta

from django.utils import timezone

from brands.models import ApiKey
from marketplace.models import IdempotencyRecord
from marketplace.tasks import idempotency_records_purge_job


def make_record(api_key: ApiKey, key: str, age: timedelta) -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        api_key=api_key,
        key=key,
        method="POST",
        path="/api/v1/tasks",
        request_hash="0" * 64,
        created_at=timezone.now() - age,
    )


def test_hourly_job_purges_only_records_past_retention(brand, api_secret):
    api_key = ApiKey.objects.get(brand=brand)
    make_record(api_key, "old", timedelta(hours=25))
    make_record(api_key, "recent", timedelta(hours=23))
    idempotency_records_purge_job()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
