from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Segment


class LoginForm(AuthenticationForm):
    username = forms.CharField(label=_("Username or mobile number"), max_length=150,
                               widget=forms.TextInput(attrs={"autofocus": True,
                                                             "autocomplete": "username"}))


class RegisterForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)
    phone = forms.CharField(label=_("Mobile number"), max_length=11, required=False)
    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput)
    password2 = forms.CharField(label=_("Password again"), widget=forms.PasswordInput)
    privacy_accepted = forms.BooleanField(
        label=_("I have read and agree to the privacy notice"), required=False)
    behaviour_consent = forms.BooleanField(
        label=_("Record my browsing and purchases under my account (optional: it improves "
                "suggestions and may help my credit at my bank; withdraw it any time in my "
                "profile)"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


def segment_choices() -> list:
    return [("", _("Rather not say")), *Segment.choices]


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)
    phone = forms.CharField(label=_("Mobile number"), max_length=11, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    segment = forms.ChoiceField(
        label=_("Customer group"), choices=segment_choices, required=False,
        help_text=_("Your bank's points mall has offers for some groups."))


class UnlockForm(forms.Form):
    username = forms.CharField(label=_("Username or mobile number"), max_length=150,
                               required=False)
    address = forms.GenericIPAddressField(label=_("IP address"), required=False)

    def __init__(self, *args, with_address: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_address:
            del self.fields["address"]


class PasswordCodeAskForm(forms.Form):
    phone = forms.CharField(label=_("Mobile number"), max_length=20,
                            widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                          "autocomplete": "tel"}))


class PasswordCodeSetForm(forms.Form):
    phone = forms.CharField(label=_("Mobile number"), max_length=20,
                            widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                          "autocomplete": "tel"}))
    code = forms.CharField(label=_("Code from the text message"), max_length=6,
                           widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                         "autocomplete": "one-time-code"}))
    password1 = forms.CharField(label=_("New password"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete":
                                                                  "new-password"}))
    password2 = forms.CharField(label=_("New password again"), strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete":
                                                                  "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data
