from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class UsernameOrPhoneBackend(ModelBackend):
    """Log in with the username or the mobile number."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username and username.isdigit() and len(username) == 11:
            user = get_user_model().objects.filter(phone=username).first()
            if user is not None:
                username = user.get_username()
        return super().authenticate(request, username=username, password=password, **kwargs)
