"""API tokens: a person creates, lists and revokes them (API and profile page); a token
authenticates API requests without any password hash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.services import api_token_create, user_register
from accounts.tasks import delete_expired_api_tokens
from conftest import PASSWORD, host_of
from tests import unique

pytestmark = pytest.mark.django_db


def _person():
    return user_register(username=f"tok-{unique.tag()}", password=PASSWORD)


def _with_token(token, bank=None):
    return APIClient(HTTP_HOST=host_of(bank), HTTP_AUTHORIZATION=f"Token {token}")


def test_create_use_list_and_revoke_a_token_over_the_api(province, api_on):
    user = _person()
    me = api_on(None, user)
    created = me.post("/api/v1/me/tokens/")
    assert created.status_code == 201
    token, key = created.json()["token"], created.json()["key"]
    assert token.startswith(key) and len(token) >= 40
    answer = _with_token(token, province.bank_a).get("/api/v1/me/")
    assert answer.status_code == 200 and answer.json()["username"] == user.username
    listed = me.get("/api/v1/me/tokens/").json()
    assert [t["key"] for t in listed] == [key] and "token" not in listed[0]
    assert me.delete(f"/api/v1/me/tokens/{key}/").status_code == 204
    assert _with_token(token).get("/api/v1/me/").status_code == 401
    assert me.delete(f"/api/v1/me/tokens/{key}/").status_code == 404


def test_a_wrong_token_is_refused_in_the_error_shape(province):
    response = _with_token("x" * 64).get("/api/v1/me/")
    assert response.status_code == 401
    assert set(response.json()) == {"message", "errors"}


def test_nobody_revokes_another_persons_token(province, api_on):
    owner, other = _person(), _person()
    created = api_on(None, owner).post("/api/v1/me/tokens/").json()
    assert api_on(None, other).delete(f"/api/v1/me/tokens/{created['key']}/").status_code == 404
    assert _with_token(created["token"]).get("/api/v1/me/").status_code == 200
    assert api_on(None, other).get("/api/v1/me/tokens/").json() == []


def test_tokens_on_the_profile_page(province, client_on):
    user = _person()
    client = client_on(None, user)
    assert 'id="api-tokens"' in client.get("/accounts/profile/").content.decode()
    page = client.post("/accounts/tokens/")
    assert page.status_code == 200
    token = page.context["new_token"]
    assert token and token in page.content.decode()
    assert _with_token(token).get("/api/v1/me/").status_code == 200
    key = token[:15]
    again = client.get("/accounts/profile/").content.decode()
    assert f'data-token="{key}"' in again and token not in again  # shown once only
    assert client.post(f"/accounts/tokens/{key}/revoke/").status_code == 302
    assert _with_token(token).get("/api/v1/me/").status_code == 401


def test_basic_auth_still_works(province):
    import base64

    user = _person()
    basic = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    client = APIClient(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Basic {basic}")
    assert client.get("/api/v1/me/").status_code == 200


def test_a_request_reads_its_own_token_once_and_expired_tokens_go(province):
    """Authentication reads the request's token with its user in one statement (knox's
    own class also read all the user's other tokens); an expired token is refused and
    deleted; the daily task deletes the others past their expiry and keeps live ones."""
    user = _person()
    live, live_token = api_token_create(user=user)
    stale, _stale_token = api_token_create(user=user)
    used, used_token = api_token_create(user=user)
    past = timezone.now() - timedelta(minutes=1)
    AuthToken.objects.filter(pk__in=[stale.pk, used.pk]).update(expiry=past)

    with CaptureQueriesContext(connection) as queries:
        assert _with_token(live_token).get("/api/v1/me/").status_code == 200
    token_reads = [q["sql"] for q in queries if "knox_authtoken" in q["sql"]]
    assert len(token_reads) == 1, token_reads
    assert _with_token(used_token).get("/api/v1/me/").status_code == 401
    assert set(AuthToken.objects.filter(user=user).values_list("pk", flat=True)) == {
        live.pk, stale.pk}  # the used one is gone, the other expired one waits

    assert delete_expired_api_tokens() >= 1  # the task body, in this transaction
    assert list(AuthToken.objects.filter(user=user).values_list("pk", flat=True)) == [live.pk]
