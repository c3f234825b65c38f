"""Anything a user can type gets a clear 4xx, never a 500: NUL characters included."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["q=abc%00", "origin=a%00", "bank=a%00", "price=%00"])
def test_a_nul_in_the_query_string_is_a_400(province, client_on, query):
    response = client_on(province.bank_a).get(f"/search/?{query}")
    assert response.status_code == 400
    assert "invalid character" in response.content.decode() or "无效字符" in \
        response.content.decode()


def test_a_nul_in_a_form_field_is_a_400_and_logs_nobody_in(province, client_on):
    client = client_on(province.bank_a)
    response = client.post("/accounts/login/", {"username": "t-shopper\x00",
                                                "password": province.password})
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_ordinary_queries_still_work(province, client_on):
    assert client_on(province.bank_a).get("/search/?q=%E8%8B%B9%E6%9E%9C").status_code == 200
