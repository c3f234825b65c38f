import pytest
from django_tenants.utils import schema_exists

pytestmark = pytest.mark.django_db


def test_session_banks_have_schemas(province):
    assert schema_exists(province.bank_a.schema_name)
    assert schema_exists(province.bank_b.schema_name)
