"""Exports people open in a spreadsheet never carry a user's text as a formula."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest

from core.exports import csv_writer, safe_cell
from federation.models import DailyMerchantStat, DailyProductStat
from tests.catalog_factories import approved_merchant, listed_product

pytestmark = pytest.mark.django_db

DAY = datetime.date(2001, 6, 1)  # a day no other test or the demo uses
QS = "?start=2001-06-01&end=2001-06-01"
SHOP = '=HYPERLINK("http://evil.example/","点我领奖")'
PRODUCT = "+SUM(1,2)苹果"


@pytest.mark.parametrize("text", ["=1+2", "+A1", "-1+2", "@SUM(A1)", "\tx", "\rx", "-x"])
def test_text_that_starts_like_a_formula_is_made_text(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["苹果", "12.50", "-12.50", "+3", "a=b", 5, Decimal("-1.00"),
                                   None, ""])
def test_other_cells_and_numbers_are_unchanged(value):
    assert safe_cell(value) == value


def test_the_csv_writer_neutralises_every_cell():
    out = io.StringIO()
    csv_writer(out).writerow(["=cmd|' /C calc'!A0", "-7.00", "ok"])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == [
        "'=cmd|' /C calc'!A0", "-7.00", "ok"]


@pytest.fixture
def named_like_formulas(province):
    bank = province.bank_a
    merchant, _ = approved_merchant(bank, province.a_manager, name=SHOP)
    product = listed_product(merchant, name=PRODUCT)
    common = {"day": DAY, "storefront_bank": bank, "merchant_bank": bank, "orders": 2,
              "gmv": Decimal("-3.50")}
    DailyMerchantStat.objects.create(merchant_id=merchant.pk, product_views=9, add_to_cart=1,
                                     **common)
    DailyProductStat.objects.create(product_id=product.pk, merchant_id=merchant.pk, views=9,
                                    quantity=4, **common)
    return merchant, product


def _csv_cells(response) -> list[str]:
    return [c for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
            for c in row]


def _xlsx_cells(response) -> list:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(response.content)).active
    return [c for row in sheet.iter_rows() for c in row]


@pytest.mark.parametrize(("table", "name"), [("merchants", SHOP), ("products", PRODUCT)])
def test_bank_exports_carry_names_as_text(province, client_on, named_like_formulas, table,
                                          name):
    client = client_on(province.bank_a, province.a_admin)
    cells = _csv_cells(client.get(f"/console/traffic/{QS}&export={table}&format=csv"))
    assert "'" + name in cells
    assert name not in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    xlsx = _xlsx_cells(client.get(f"/console/traffic/{QS}&export={table}&format=xlsx"))
    named = [c for c in xlsx if c.value == name]
    assert named, "the name reads exactly as typed"
    assert all(c.data_type == "s" for c in named)
    assert not any(c.data_type == "f" for c in xlsx)


def test_federation_exports_carry_names_as_text(province, client_on, named_like_formulas):
    client = client_on(None, province.fed_admin)
    cells = _csv_cells(client.get(f"/federation/traffic/{QS}&export=products&format=csv"))
    assert "'" + PRODUCT in cells and PRODUCT not in cells
    xlsx = _xlsx_cells(client.get(f"/federation/traffic/{QS}&export=products&format=xlsx"))
    assert not any(c.data_type == "f" for c in xlsx)
