from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


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

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)
    phone = forms.CharField(label=_("Mobile number"), max_length=11, required=False)
    email = forms.EmailField(label=_("Email"), required=False)


class UnlockForm(forms.Form):
    username = forms.CharField(label=_("Username or mobile number"), max_length=150,
                               required=False)
    address = forms.GenericIPAddressField(label=_("IP address"), required=False)

    def __init__(self, *args, with_address: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_address:
            del self.fields["address"]
