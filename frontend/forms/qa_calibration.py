"""Forms of the calibration pages: finding a closed task and inviting reviewers.
Ratings are read with ``frontend.forms.qa_reviews.scorecard_input``."""

from __future__ import annotations

from django import forms


class TaskSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Task",
        widget=forms.TextInput(attrs={"placeholder": "Task number or words of its subject"}),
    )


class InviteForm(forms.Form):
    """Reviewers to invite; the choices are the task's eligible reviewers."""

    reviewers = forms.ModelMultipleChoiceField(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        label="Reviewers",
        help_text="At least three: platform staff and the brand's admins and QA reviewers.",
    )

    def __init__(self, *args, eligible, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["reviewers"]
        field.queryset = eligible
        field.label_from_instance = _reviewer_label


def _reviewer_label(user) -> str:
    role = "staff" if user.is_staff else "brand reviewer"
    return f"{user.get_full_name()} ({user.email}, {role})"
