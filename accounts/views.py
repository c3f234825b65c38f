from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.forms import LoginForm, ProfileForm, RegisterForm
from accounts.profile import profile_lines
from accounts.services import user_register, user_update_profile
from core.forms import add_service_errors


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def register(request):
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = user_register(username=data["username"], password=data["password1"],
                                 phone=data["phone"], display_name=data["display_name"])
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
    initial = {"display_name": user.display_name, "phone": user.phone, "email": user.email}
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
    return render(request, "accounts/profile.html",
                  {"form": form, "roles": profile_lines(user)}, status=status)
