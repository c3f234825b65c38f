"""Schema fuzzing: every operation of the portal's and a bank's OpenAPI document, called
with generated input as a shopper, a merchant, a bank admin and a federation admin,
answers as its schema says.

Schemathesis (v4) loads each host's schema and calls the Django application in-process
(WSGI), inside the test's transaction: whatever the fuzzed requests write is rolled back
at the end, and each request runs in a savepoint of its own (like ``ATOMIC_REQUESTS``),
so one refused write does not spoil the next. The caller signs in with a session cookie
sent as an explicit header; schemathesis generates no credentials of its own
(``with_security_parameters`` off), so its ``ignored_auth`` check can take ours away and
expect 401.

Every check of schemathesis runs (CHECKS): no server error, status codes, content types,
response headers and bodies as declared, invalid data refused and valid data accepted,
missing required headers, unsupported methods (405), wrong credentials refused (not
ignored), use after delete and resources available after creation. ``max_response_time``
stays out for good: a timing threshold is not behaviour.

What the checks required of the API: bodies are JSON (a form's empty field or missing
checkbox cannot be told from "not given"), booleans are JSON ``true``/``false``, an empty
optional query parameter is declared (``allowEmptyValue``) and read as not given, unknown
choices are a 400, and each operation declares the statuses it answers (core.schema).
The sign-in lockout is raised for the run: the wrong-credentials check sends far more
than ten wrong passwords from one address.

Generation is bounded and deterministic: a few examples per operation and mode, Hypothesis
derandomized, no example database, no shrinking.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from django.db import transaction
from django.test import Client
from django.test.client import ClientHandler
from django_tenants.utils import schema_context
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from conftest import host_of
from lending import services as lending
from lending.models import ScheduleLine
from tests.lending_factories import buyer, lenient_policy
from tests.orders_factories import market, pay, place

MAX_EXAMPLES = 4


class InProcessApp:
    """A WSGI application on one host: Django's test handler (no CSRF enforcement, no
    closing of the test's connection), each request in a savepoint."""

    def __init__(self, host: str):
        self.host = host
        self.handler = ClientHandler(enforce_csrf_checks=False)

    def __call__(self, environ, start_response):
        environ["HTTP_HOST"] = self.host
        with transaction.atomic():
            response = self.handler(environ)
            if response.status_code >= 500:
                transaction.set_rollback(True)
        headers = [(k, v) for k, v in response.items()]
        headers += [("Set-Cookie", c.output(header="").strip())
                    for c in response.cookies.values()]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return [response.content] if not response.streaming else response.streaming_content


CALLERS = [
    ("portal", "shopper"), ("portal", "fed_admin"),
    ("bank", "shopper"), ("bank", "merchant"), ("bank", "bank_admin"),
]


@pytest.fixture
def world(province, db):
    """A bank with a shop, a buyer with a paid order and an overdue instalment loan."""
    bank = province.bank_a
    shop = market(province)
    lenient_policy(bank, province.a_admin)
    me = buyer()
    pay(place(me, bank, [(shop.sku_a, 8)]))
    from accounts.models import ConsentPurpose
    from accounts.services import consent_grant

    consent_grant(user=me, purpose=ConsentPurpose.CREDIT, bank=bank, source="test")
    with schema_context(bank.schema_name):
        lending.profile_compute(bank=bank, party="buyer", party_id=me.pk)
        checkout = place(me, bank, [(shop.sku_a, 2)])
        app = lending.checkout_finance(bank=bank, checkout=checkout, buyer=me, months=3)
        first = ScheduleLine.objects.get(loan_id=app.loan.pk, seq=1)
        lending.loans_age(bank=bank, as_of=first.due_date + timedelta(days=10))
    return {"shopper": me, "merchant": shop.merchant_a.members.get().user,
            "bank_admin": province.a_admin, "fed_admin": province.fed_admin,
            "bank": bank}


@pytest.fixture(params=CALLERS, ids=[f"{h}-{r}" for h, r in CALLERS])
def caller(request, world):
    where, role = request.param
    bank = world["bank"] if where == "bank" else None
    client = Client(HTTP_HOST=host_of(bank))
    client.force_login(world[role])
    return {"host": host_of(bank), "sessionid": client.cookies["sessionid"].value}


@pytest.fixture
def api_schema(caller, settings):
    # The ignored_auth check sends wrong credentials many times from one address; the
    # sign-in lockout (tested on its own) would answer 429 after ten.
    settings.AXES_FAILURE_LIMIT = 1_000_000
    app = InProcessApp(caller["host"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", app)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True,
                                    no_shrink=True, with_security_parameters=False)
    accepted = schema.config.checks.positive_data_acceptance
    accepted.expected_statuses = [*accepted.expected_statuses, "400"]
    return schema


SETTINGS = hypothesis_settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None,
                               deadline=None, suppress_health_check=list(HealthCheck))


# Every check schemathesis has, but the response time (see the module's docstring).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection,
          positive_data_acceptance, missing_required_header, unsupported_method,
          allow_header_conformance, ignored_auth, use_after_free, ensure_resource_availability]


def test_api_answers_as_its_schema_says(api_schema, caller):
    class SessionCookie:
        """The caller's session, as the browser sends it (schemathesis knows it is ours
        and takes it away in its ignored_auth check)."""

        def get(self, case, context):
            return caller["sessionid"]

        def set(self, case, data, context):
            case.cookies = {**(case.cookies or {}), "sessionid": data}

    @api_schema.auth.apply(SessionCookie, refresh_interval=None)
    def call_and_validate(case, caller):
        case.call_and_validate(checks=CHECKS)

    failures = []
    for result in get_all_tests(schema=api_schema, test_func=call_and_validate,
                                settings=SETTINGS, given_kwargs={}):
        operation, run = result.ok()
        try:
            run(caller=caller)
        except (Exception, BaseExceptionGroup) as exc:  # every operation's findings
            failures.append(f"{operation.label}:\n{exc}")
    assert not failures, "\n\n".join(failures)
