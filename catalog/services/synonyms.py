"""The synonym dictionary (federation admins): groups of words that mean the same
produce; a change clears the cached dictionary.
"""

from __future__ import annotations

import contextlib

from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from catalog import search
from catalog.models import SynonymGroup
from catalog.page_cache import catalog_changed
from catalog.selectors import SYNONYMS_CACHE_KEY


def _synonym_words(text: str) -> list[str]:
    words = [search.normalize_text(w).replace(" ", "")
             for w in search.split_aliases(text.replace(" ", ","))]
    return list(dict.fromkeys(w for w in words if w))


def synonyms_changed() -> None:
    """Forget the cached dictionary (every process reads the table again), and the
    search pages kept whole (a new catalog version: they find other products now)."""
    # The cache is an optimisation: without it the entry expires by itself.
    with contextlib.suppress(Exception):
        caches["shared"].delete(SYNONYMS_CACHE_KEY)
    catalog_changed()


@transaction.atomic
def synonym_group_create(*, words: str) -> SynonymGroup:
    """A group of words that mean the same produce, e.g. "土豆, 马铃薯, 洋芋"."""
    clean = _synonym_words(words or "")
    errors = []
    if len(clean) < 2:
        errors.append(_("Enter at least two different words, separated by commas or spaces."))
    for word in clean:
        if len(word) > 30:
            errors.append(_("“%(w)s” is longer than 30 characters.") % {"w": word})
    taken = (SynonymGroup.objects.select_for_update()
             .filter(words__overlap=clean).values_list("words", flat=True))
    for group in taken:
        for word in sorted(set(group) & set(clean)):
            errors.append(_("“%(w)s” is already in the group %(g)s.")
                          % {"w": word, "g": " = ".join(group)})
    if errors:
        raise ValidationError({"words": errors})
    group = SynonymGroup.objects.create(words=clean)
    transaction.on_commit(synonyms_changed)
    return group


@transaction.atomic
def synonym_group_delete(*, group: SynonymGroup) -> None:
    SynonymGroup.objects.filter(pk=group.pk).delete()
    transaction.on_commit(synonyms_changed)
