from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import (
    LoginForm,
    PasswordCodeAskForm,
    PasswordCodeSetForm,
    ProfileForm,
    RegisterForm,
    UnlockForm,
)
from accounts.models import ConsentPurpose
from accounts.password_codes import password_code_send, password_code_set
from accounts.profile import profile_lines
from accounts.services import user_update_profile
from banks.models import StaffRole
from banks.selectors import membership_for
from core.errors import ApplicationError
from core.forms import add_service_errors


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def set_language(request):
    """Django's language switch (the cookie, back to the page), and for a signed-in
    person the language their notifications are written in from now on."""
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    if (request.method == "POST" and request.user.is_authenticated
            and language in dict(settings.LANGUAGES)):
        services.user_set_language(user=request.user, language=language)
    return response


def register(request):
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_sign_up(
                username=data["username"], password=data["password1"], phone=data["phone"],
                display_name=data["display_name"], privacy_accepted=data["privacy_accepted"],
                behaviour_consent=data["behaviour_consent"],
                language=translation.get_language() or "")
        except ValidationError as exc:
            add_service_errors(form, exc, {"password": "password1"})
        else:
            login(request, user, backend="accounts.backends.UsernameOrPhoneBackend")
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect("home")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/register.html", {"form": form}, status=status)


@login_required
def profile(request):
    user = request.user
    initial = {"display_name": user.display_name, "phone": user.phone, "email": user.email,
               "segment": user.segment}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            user_update_profile(user=user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Profile saved."))
            return redirect("accounts:profile")
    status = 400 if request.method == "POST" else 200
    return _profile_page(request, form, status=status)


def _profile_page(request, form, *, status: int = 200, new_token: str = ""):
    user = request.user
    if form is None:
        form = ProfileForm(initial={"display_name": user.display_name, "phone": user.phone,
                                    "email": user.email, "segment": user.segment})
    return render(request, "accounts/profile.html", {
        "form": form, "roles": profile_lines(user), "consents": selectors.consents_of(user=user),
        "behaviour_given": selectors.has_consent(user_id=user.pk,
                                                 purpose=ConsentPurpose.BEHAVIOUR),
        "tokens": selectors.api_token_list(user=user), "new_token": new_token,
        "can_unlock": _can_unlock(request)}, status=status)


@login_required
@require_POST
def token_create(request):
    """The new token is shown on this answer only (it is not kept anywhere)."""
    try:
        _row, token = services.api_token_create(user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("accounts:profile")
    return _profile_page(request, None, new_token=token)


@login_required
@require_POST
def token_revoke(request, key: str):
    if services.api_token_revoke(user=request.user, token_key=key):
        messages.success(request, _("The token was revoked."))
    return redirect("accounts:profile")


def _can_unlock(request) -> bool:
    bank = getattr(request, "bank", None)
    if bank is None:
        return bool(request.user.is_federation_admin)
    membership = membership_for(user=request.user, bank=bank)
    return membership is not None and membership.role == StaffRole.BANK_ADMIN


@login_required
def sign_in_unlock(request):
    """Bank admins and federation admins clear an account's failed sign-ins."""
    if not _can_unlock(request):
        raise Http404
    bank = getattr(request, "bank", None)
    form = UnlockForm(request.POST or None, with_address=bank is None)
    if request.method == "POST" and form.is_valid():
        try:
            cleared = services.sign_in_unlock(
                actor=request.user, bank=bank, identifier=form.cleaned_data["username"],
                address=form.cleaned_data.get("address") or "")
        except PermissionDenied:
            raise Http404
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Unlocked: %(n)d failed sign-ins cleared; signing in "
                                        "works at once.") % {"n": cleared})
            return redirect("accounts:unlock")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/unlock.html", {"form": form}, status=status)


def password_code_ask(request):
    """Step 1: the mobile number; a code is texted if an account has it (the page says the
    same either way)."""
    form = PasswordCodeAskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_code_send(phone=form.cleaned_data["phone"],
                               client_address=request.META.get("REMOTE_ADDR", ""))
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error("phone", exc.message)
        else:
            messages.info(request, _("If an account has this number, a code is on its way "
                                     "by text message."))
            return redirect(f"{reverse('accounts:password-code-set')}?phone="
                            f"{form.cleaned_data['phone'].strip()}")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/password_code.html", {"form": form, "step": 1},
                  status=status)


def password_code_set_page(request):
    """Step 2: the code and the new password; signed in at once."""
    form = PasswordCodeSetForm(request.POST or None,
                               initial={"phone": request.GET.get("phone", "")[:20]})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = password_code_set(phone=data["phone"], code=data["code"],
                                     password=data["password1"])
        except ValidationError as exc:
            add_service_errors(form, exc, {"password": "password1"})
        else:
            login(request, user, backend="accounts.backends.UsernameOrPhoneBackend")
            messages.success(request, _("Your password is set: you are signed in."))
            return redirect("accounts:profile")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/password_code.html", {"form": form, "step": 2},
                  status=status)


@login_required
@require_POST
def behaviour_consent(request):
    """Give or withdraw the consent to record browsing and purchases under the account."""
    if request.POST.get("give") == "1":
        services.consent_grant(user=request.user, purpose=ConsentPurpose.BEHAVIOUR,
                               source="profile")
        messages.success(request, _("Thank you: your browsing and purchases are recorded "
                                    "under your account from now on."))
    else:
        services.consent_withdraw(user=request.user, purpose=ConsentPurpose.BEHAVIOUR)
        messages.success(request, _("Withdrawn: nothing more is recorded under your "
                                    "account."))
    return redirect(f"{reverse('accounts:profile')}#privacy")


def privacy_notice(request):
    return render(request, "accounts/privacy.html")
