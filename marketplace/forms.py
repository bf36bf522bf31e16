from django import forms

from marketplace.models import AccountType


class SignupForm(forms.Form):
    """Extra sign-up fields; allauth calls ``signup`` after creating the user."""

    # allauth appends its own fields (email, passwords) after ours unless told
    # otherwise; this is the order a person fills the form in.
    field_order = ["full_name", "email", "password1", "password2", "account_type"]

    full_name = forms.CharField(
        max_length=150,
        label="Your name",
        widget=forms.TextInput(attrs={"autocomplete": "name", "placeholder": "Ana García"}),
    )
    account_type = forms.ChoiceField(
        choices=AccountType.choices,
        widget=forms.RadioSelect,
        label="How will you use Gigdesk?",
        error_messages={"required": "Choose how you will use Gigdesk: as an agent or for a brand."},
    )

    def clean_full_name(self) -> str:
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name

    def signup(self, request, user) -> None:
        from marketplace.services import user_complete_signup

        user_complete_signup(
            user=user,
            full_name=self.cleaned_data["full_name"],
            account_type=self.cleaned_data["account_type"],
        )
