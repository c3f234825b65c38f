"""Over-long requests get the platform's own answers, also through the real web server
(gunicorn), never gunicorn's raw "Request Line is too large" page."""

from __future__ import annotations

import http.client
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.django_db

LONG_SEARCH = "罗汉果苹果蜂蜜" * 66  # 462 Chinese characters, about 4,200 bytes encoded


def _get(web_server, path, host="localhost"):
    conn = http.client.HTTPConnection("127.0.0.1", web_server.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host, "Accept-Language": "zh-hans"})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode(
            "utf-8", "replace")
    finally:
        conn.close()


def test_a_long_chinese_search_gets_the_search_message_from_the_real_server(
        province, web_server):
    path = "/search/?q=" + quote(LONG_SEARCH)
    assert 4000 < len(path) < 4500
    status, content_type, body = _get(web_server, path, host="bank-a.localhost")
    assert status == 400
    assert "text/html" in content_type
    assert 'role="alert"' in body and "60" in body  # the search page says the limit
    assert "Request Line is too large" not in body


def test_an_over_long_url_gets_the_platforms_414_page_and_api_error(province, web_server):
    status, _type, body = _get(web_server, "/search/?q=" + "a" * 7000)
    assert status == 414 and 'id="url-too-long"' in body and "地址太长" in body
    status, content_type, body = _get(web_server, "/api/v1/catalog/products/?q=" + "a" * 7000)
    assert status == 414 and content_type.startswith("application/json")
    assert '"message"' in body and '"errors"' in body


def test_the_search_box_says_its_limit(province, client_on):
    page = client_on(province.bank_a).get("/").content.decode()
    assert 'name="q"' in page and 'maxlength="60"' in page


def test_a_search_of_sixty_characters_still_runs_and_one_more_is_refused(province, client_on,
                                                                         api_on):
    client = client_on(province.bank_a)
    assert client.get("/search/", {"q": "苹" * 60}).status_code == 200
    response = client.get("/search/", {"q": "苹" * 61})
    assert response.status_code == 400 and "60" in response.content.decode()
    api = api_on(province.bank_a).get("/api/v1/catalog/products/", {"q": "苹" * 61})
    assert api.status_code == 400 and "q" in api.json()["errors"]
