from django import forms

from marketplace.models import AccountType


class SignupForm(forms.Form):
    """Extra sign-up fields; allauth calls ``signup`` after creating the user."""

    full_name = forms.CharField(max_length=150, label="Your name")
    account_type = forms.ChoiceField(
        choices=AccountType.choices,
        widget=forms.RadioSelect,
        label="How will you use Gigdesk?",
    )

    def signup(self, request, user) -> None:
        from marketplace.services import user_complete_signup

        user_complete_signup(
            user=user,
            full_name=self.cleaned_data["full_name"],
            account_type=self.cleaned_data["account_type"],
        )
