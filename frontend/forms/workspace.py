"""Forms of the agent workspace, the customer page and the brand's canned replies
and resolution codes.

They parse what a person typed; ``gigs.work`` and ``gigs.services`` decide and
may still refuse, and ``add_service_errors`` puts the refusal next to the field.
"""

from __future__ import annotations

from django import forms
from django.db.models import Q, QuerySet

from frontend.forms.gigs import add_service_errors
from gigs.models import CannedReply, ResolutionCode, Task
from marketplace.errors import ValidationFailed
from marketplace.languages import LANGUAGE_CHOICES

MESSAGE_MAX_LENGTH = 20000
REASON_MAX_LENGTH = 2000
CSAT_COMMENT_MAX_LENGTH = 2000
CSAT_CHOICES = [
    (5, "5 · Excellent"),
    (4, "4 · Good"),
    (3, "3 · Okay"),
    (2, "2 · Poor"),
    (1, "1 · Very poor"),
]


def canned_replies_for_task(task: Task) -> QuerySet[CannedReply]:
    """The task's brand's canned replies in the task's language, or in any language."""
    return CannedReply.objects.filter(brand_id=task.brand_id).filter(
        Q(language="") | Q(language=task.language)
    )


# --- Agent workspace ----------------------------------------------------------------


class ReplyForm(forms.Form):
    """A reply to the customer; ``insert`` adds a canned reply's text instead of sending."""

    body = forms.CharField(
        label="Reply to the customer",
        max_length=MESSAGE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    canned = forms.ModelChoiceField(
        queryset=CannedReply.objects.none(),
        required=False,
        label="Canned reply",
        empty_label="Choose a canned reply…",
    )

    def __init__(self, *args, task: Task, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["canned"].queryset = canned_replies_for_task(task)
        self.fields["canned"].label_from_instance = lambda reply: (
            f"{reply.title} ({reply.get_language_display()})" if reply.language else reply.title
        )

    @property
    def has_canned_replies(self) -> bool:
        return self.fields["canned"].queryset.exists()

    def clean_body(self) -> str:
        return self.cleaned_data["body"].strip()

    def require_body(self) -> bool:
        """For sending: a reply needs words. False (with the error) if it has none."""
        if self.is_valid() and not self.cleaned_data["body"]:
            self.add_error("body", "Write a reply first, or insert a canned reply.")
        return self.is_valid()

    def body_with_canned_text(self) -> str | None:
        """The typed reply with the chosen canned reply added; None (with the error) if none."""
        if not self.is_valid():
            return None
        canned = self.cleaned_data["canned"]
        if canned is None:
            self.add_error("canned", "Choose a canned reply to insert.")
            return None
        body = self.cleaned_data["body"]
        return f"{body}\n\n{canned.body}" if body else canned.body

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc, {"task": "body"})


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Internal note",
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Seen by the brand and by agents who work this task later, never by the customer.",
        error_messages={"required": "Write the note first."},
    )

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc, {"task": "body"})


class ResolveForm(forms.Form):
    resolution_code = forms.ChoiceField(
        label="Resolution",
        error_messages={
            "required": "Choose how the task was resolved.",
            "invalid_choice": "That is not one of this brand's resolution codes.",
        },
    )
    note = forms.CharField(
        label="Closing note (optional, internal)",
        max_length=MESSAGE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, task: Task, **kwargs):
        super().__init__(*args, **kwargs)
        codes = ResolutionCode.objects.filter(brand_id=task.brand_id, is_active=True)
        self.fields["resolution_code"].choices = [("", "Choose…")] + [
            (code.code, code.label) for code in codes
        ]

    @property
    def has_codes(self) -> bool:
        return len(self.fields["resolution_code"].choices) > 1

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc)


class EscalateForm(forms.Form):
    reason = forms.CharField(
        label="Why does this need the brand's own team?",
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "An escalation needs a reason."},
    )

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc)


# --- Customer page ------------------------------------------------------------------


class CustomerReplyForm(forms.Form):
    body = forms.CharField(
        label="Your message",
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Write your message first."},
    )

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc, {"task": "body"})


class CsatForm(forms.Form):
    score = forms.TypedChoiceField(
        label="How happy are you with the help you got?",
        choices=CSAT_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a rating from 1 to 5.",
            "invalid_choice": "Choose a rating from 1 to 5.",
        },
    )
    comment = forms.CharField(
        label="Anything you'd like to add? (optional)",
        max_length=CSAT_COMMENT_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc)


# --- Brand console: canned replies and resolution codes ----------------------------------


class CannedReplyForm(forms.Form):
    title = forms.CharField(
        max_length=CannedReply._meta.get_field("title").max_length,
        help_text="What agents pick it by, for example “Refund timeline”.",
    )
    body = forms.CharField(
        label="Text",
        max_length=CannedReply._meta.get_field("body").max_length,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Agents insert it into their reply and adapt it before sending.",
    )
    language = forms.ChoiceField(
        choices=[("", "Any language")] + LANGUAGE_CHOICES,
        required=False,
        help_text="Offered only on tasks in this language; “Any language” offers it on all.",
    )

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc)


class ResolutionCodeForm(forms.Form):
    code = forms.SlugField(
        max_length=ResolutionCode._meta.get_field("code").max_length,
        help_text="Short and stable, for reports and your helpdesk: like refund_issued.",
    )
    label = forms.CharField(
        max_length=ResolutionCode._meta.get_field("label").max_length,
        help_text="What agents read when they resolve, like “Refund issued”.",
    )

    def add_service_errors(self, exc: ValidationFailed) -> None:
        add_service_errors(self, exc)
