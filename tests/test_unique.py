"""Test data names are deterministic and never trip the password similarity check."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from accounts.models import User
from conftest import PASSWORD
from tests import unique

# Every prefix the tests put before a tag in a username.
PREFIXES = ["pts-", "u-", "buyer-", "t-buyer-", "t-hook-buyer-", "prop-buyer-", "crash-buyer-",
            "x-", "desk-", "share-", "ld", "rd"]


def test_a_random_hex_tag_could_make_a_username_too_similar_to_the_password():
    # What once failed a browser test's set-up: a uuid tag made of the password's letters.
    with pytest.raises(ValidationError):
        validate_password(PASSWORD, user=User(username="pts-2a0e62"))


def test_no_tag_makes_a_username_too_similar_to_the_password():
    for n, prefix in itertools.product(range(1, 3000), PREFIXES):
        for length in (4, 6, 8):
            validate_password(PASSWORD, user=User(username=prefix + unique.encode(n, length)))


def test_tags_are_unique_hex_of_the_asked_length():
    tags = [unique.encode(n, 4) for n in range(1, 11**4)]
    assert len(set(tags)) == len(tags)
    assert all(len(t) == 4 and int(t, 16) >= 0 for t in tags)
    assert unique.tag(6) != unique.tag(6)
    assert unique.mobile() != unique.mobile()
