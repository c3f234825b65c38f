"""The pages' Content-Security-Policy: scripts from this site only, and no template that
would need more (an inline script or event handler would be blocked in the browser)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I)


def templates():
    for path in ROOT.glob("*/templates/**/*.html"):
        if ".venv" not in path.parts and "staticfiles" not in path.parts:
            yield path


@pytest.mark.parametrize(("host", "path"), [(None, "/"), ("bank-a", "/"),
                                            ("bank-a", "/accounts/login/"),
                                            ("bank-a", "/api/v1/docs/")])
def test_pages_carry_a_policy_that_allows_scripts_from_this_site_only(client_on, province,
                                                                      host, path):
    bank = {None: None, "bank-a": province.bank_a}[host]
    response = client_on(bank).get(path)
    assert response.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in
                  response["Content-Security-Policy"].split(";") if part.strip())
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'self'"


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for path in templates():
        text = path.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, HANDLER):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}"
                          for m in pattern.finditer(text)]
    assert offenders == []
