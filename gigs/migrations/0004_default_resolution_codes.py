from django.db import migrations

DEFAULT_RESOLUTION_CODES = (
    ("answered", "Question answered"),
    ("refund_issued", "Refund issued"),
    ("replacement_sent", "Replacement sent"),
    ("order_updated", "Order updated"),
    ("no_customer_reply", "No reply from the customer"),
    ("duplicate", "Duplicate"),
)


def seed_codes(apps, schema_editor):
    Brand = apps.get_model("brands", "Brand")
    ResolutionCode = apps.get_model("gigs", "ResolutionCode")
    ResolutionCode.objects.bulk_create(
        [
            ResolutionCode(brand=brand, code=code, label=label)
            for brand in Brand.objects.all()
            for code, label in DEFAULT_RESOLUTION_CODES
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("gigs", "0003_dispatch_sessions_records")]
    operations = [migrations.RunPython(seed_codes, migrations.RunPython.noop)]
