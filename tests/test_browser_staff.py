"""Staff management and the audit trail in a real browser on a phone-sized screen: a bank
admin grants a role by mobile number, sees the colleague in the list, and finds the change
on the audit page.

The data the web server must see is committed in a module fixture (and removed after).
"""

from __future__ import annotations

import pytest

from accounts.services import user_register
from banks.models import BankEvent, StaffMembership
from tests import test_browser, unique
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
phone_page = test_browser.phone_page


@pytest.fixture(scope="module")
def colleague(province, django_db_blocker):
    tag = unique.tag()
    digits = f"{abs(hash(tag)) % 10**8:08d}"
    with django_db_blocker.unblock():
        user = user_register(username=f"st-{tag}", password=province.password,
                             phone=f"135{digits}", display_name="王柜员")
    yield user
    with django_db_blocker.unblock():
        BankEvent.objects.filter(detail__note=user.username).delete()
        StaffMembership.objects.filter(user=user).delete()


def test_a_bank_admin_grants_a_role_and_finds_it_on_the_audit_trail(
        phone_page, web_server, province, colleague):
    page = phone_page
    page.goto(web_server.url("bank-a.localhost", "/accounts/login/?next=/console/staff/"))
    page.fill("input[name=username]", province.a_admin.username)
    page.fill("input[name=password]", province.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.fill("#id_person", colleague.phone)
    page.select_option("#id_role", "account_manager")
    page.select_option("#id_branch", str(province.a_branch.pk))
    with page.expect_navigation():
        page.click("#grant-role button[type=submit]")
    assert "王柜员" in page.locator("#staff-list").inner_text()
    shot(page, "console-staff")

    page.click("text=审计记录中的变更")
    page.wait_for_load_state()
    rows = page.locator("#audit-list").inner_text()
    assert colleague.username in rows and "角色已授予" in rows and "客户经理" in rows
    assert page.evaluate("document.documentElement.scrollWidth") <= 400  # no sideways page
    shot(page, "console-audit")
