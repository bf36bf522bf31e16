"""Bad filter input is a form error naming the field, never a crash."""

import pytest
from django.http import QueryDict

from analytics.filters import MetricFilter
from tests.gigs.factories import GigFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-05-01&end=2026-04-01", "end", "The end date is before the start date."),
        ("start=2026-01-01&end=2028-01-01", "end", "Choose a range of at most two years."),
        (
            "start=0001-01-01&end=0001-01-02",
            "start",
            "Choose a date from 2000-01-01 to 2999-12-31.",
        ),
        ("start=9999-12-30&end=9999-12-31", "end", "Choose a date from 2000-01-01 to 2999-12-31."),
        ("start=yesterday", "start", "Enter a date like 2026-03-01."),
        ("language=xx", "language", "Choose a language from the list."),
        ("tier=9", "tier", "Choose a tier from 1 to 5."),
        ("agent=999999", "agent", "Choose an agent of your pool, or all agents."),
    ],
)
def test_bad_filters_name_their_field(brand, query, field, message):
    metric_filter = MetricFilter(QueryDict(query), brand=brand)
    assert not metric_filter.is_valid()
    assert message in metric_filter.errors[field]


def test_languages_are_those_the_brand_works_in(brand):
    GigFactory(brand=brand, language="fr")
    metric_filter = MetricFilter(QueryDict("language=af"), brand=brand)
    assert not metric_filter.is_valid()
    choices = [code for code, _ in metric_filter.form.fields["language"].choices if code]
    assert choices == ["fr"]


def test_a_gig_of_another_brand_is_refused(brand, other_brand):
    other_gig = GigFactory(brand=other_brand)
    metric_filter = MetricFilter(QueryDict(f"gig={other_gig.pk}"), brand=brand)
    assert not metric_filter.is_valid()
    assert metric_filter.errors["gig"] == ["Choose one of your gigs, or all gigs."]


def test_missing_dates_default_to_the_last_four_weeks(brand):
    metric_filter = MetricFilter(QueryDict(""), brand=brand)
    assert metric_filter.is_valid()
    assert metric_filter.period.days == 28
    previous = metric_filter.period.previous()
    assert previous.days == 28
    assert (metric_filter.period.first - previous.last).days == 1
