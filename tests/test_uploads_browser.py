"""Served uploads in a real browser: a bank administrator opens every kind of stored file
(pictures, PDFs, and pages or SVGs stored before the upload policy existed) and no script
in them runs."""

from __future__ import annotations

import io

import pytest
from django_tenants.utils import schema_context

from admission.models import DossierDocument
from admission.services import document_add
from catalog.models import Product
from tests.catalog_factories import approved_merchant
from tests.test_browser import browser, page  # noqa: F401 - fixtures
from tests.test_uploads import HTML, SVG, good

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SCRIPTED = HTML.replace(b"alert(document.cookie)", b"alert('ran');window.top.ran=1")


@pytest.fixture(scope="module")
def served(province, django_db_blocker):
    """Files as they are stored (committed, for the web server): good ones through the
    policy, bad ones planted as if from before it."""
    with django_db_blocker.unblock():
        merchant, dossier = approved_merchant(province.bank_a, province.a_admin)
        urls = []
        with schema_context(province.bank_a.schema_name):
            for kind in ("jpeg", "png", "pdf"):
                doc = document_add(dossier=dossier, title=f"good {kind}", file=good(kind),
                                   actor=province.a_admin)
                urls.append(f"/console/merchants/{merchant.pk}/files/document/{doc.pk}/")
            for name, data in (("legacy.html", SCRIPTED), ("legacy.svg", SVG)):
                doc = DossierDocument(dossier=dossier, title=name)
                doc.file.save(name, io.BytesIO(data), save=True)  # as stored before the policy
                urls.append(f"/console/merchants/{merchant.pk}/files/document/{doc.pk}/")
        storage = Product._meta.get_field("image").storage
        planted = [storage.save("legacy/page.html", io.BytesIO(SCRIPTED)),
                   storage.save("legacy/logo.svg", io.BytesIO(SVG))]
        urls += [storage.url(name) for name in planted]
        yield urls
        for name in planted:
            storage.delete(name)


def test_no_script_in_a_served_upload_runs_for_a_bank_admin(page, web_server, province,  # noqa: F811
                                                             served):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    host = "bank-a.localhost"
    page.goto(web_server.url(host, "/accounts/login/?next=/console/"))
    page.fill("input[name=username]", province.a_admin.username)
    page.fill("input[name=password]", province.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    opened = 0
    downloads: list[str] = []
    for path in served:
        try:
            response = page.goto(web_server.url(host, path))
        except Exception as exc:  # noqa: BLE001 - a file sent as a download is not a page
            downloads.append(str(exc))
            continue
        opened += 1
        assert response is not None and response.status == 200, path
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.ran === undefined"), path
    assert opened >= 3  # the pictures and the PDF are shown in the browser
    assert all("Download is starting" in d for d in downloads), downloads
    assert dialogs == []
