"""Search that works for Chinese: how products are indexed and queries are understood.

Technique (figures in bench/README.md, section "Search"; the rules for shoppers in
docs/flows.md, "Product search"):

* **One normalisation** (``normalize_query``) for every entry point (storefront page, API,
  suggestions) and for the indexed text: NFKC (full-width ＬＨＧ and ２５ become lhg and 25),
  traditional to simplified characters (OpenCC ``t2s``), lower case, punctuation and
  control characters to spaces, runs of spaces to one. A query longer than
  ``settings.SEARCH_MAX_QUERY_LENGTH`` characters is refused (``QueryTooLong``), not cut.
* **Fields and weights.** Each listed product gets a PostgreSQL ``tsvector`` (GIN index) of
  tokens made here, not by PostgreSQL's parser (which does not segment Chinese). Every
  token has a position and a weight, so the weights really are stored (a lexeme without a
  position cannot carry one):
  - A: the product's name and English name (the characters of its origin's name inside
    the name, 茶陵 in 茶陵紫薯, weigh C: they name the place, not the produce);
  - B: its aliases and the specifications of its SKUs;
  - C: its subtitle and geographical-indication label;
  - D: the names, as a whole, of its category (and parent category, their English names
    and aliases), of its origin (province, county, township; "茶陵县" also as "茶陵") and
    of its shop, with their full pinyin.
  In A, B and C every CJK character and every pair of adjacent characters is a token, the
  pairs at consecutive positions, so a word of two or more characters is the *phrase* of
  its pairs (罗汉果 -> 罗汉 <-> 汉果 finds 香港罗汉果 but not a name with 罗汉 and 汉果
  apart); a single character is its unigram. Names and aliases also carry their pinyin:
  the whole syllable string from each syllable on (xianggangluohanguo, luohanguo, ...) and
  the same for the initials (xglhg, lhg, ...), matched by prefix. ASCII words as they are.
* **A word matches a product** when it matches the product's own fields (A, B or C), or
  when it *is* the whole name of its category, origin or shop (D). So 茶 does not bring a
  county named 茶陵县, 罗汉果 does not bring the other goods of a co-operative whose name
  contains it, and 苹果 does not bring pears filed under a category "苹果梨"; 茶陵 or
  水果 typed as such do select that county or category. Words are AND-ed.
* **Synonyms** come from the federation's dictionary (``catalog.SynonymGroup``), applied
  at query time only (a change works at once, without re-indexing): a Chinese word is
  expanded with its group (土豆 = 马铃薯 = 洋芋); an ASCII word that is (the start of, for
  four letters or more) the full pinyin of a dictionary word is expanded with that word's
  group (malingshu -> 马铃薯, 土豆, ...).
* **Typos**, for a word that finds nothing as typed (a word that finds products is taken
  as meant: 梨子 must not bring 李子, both "lizi"): a Chinese word of two or more
  characters then matches names with the same pinyin (罗汉国 finds 罗汉果); an ASCII word
  of four letters or more matches indexed pinyin tokens one edit away (a letter wrong,
  missing, extra or two swapped: luohanguu, luohnaguo), found in the vocabulary
  ``catalog.SearchTerm``. Such matches rank below every exact one.
* **Ranking** tiers, best first: the name equals the query; the name contains the whole
  query; every word in the name; every word in the product's own fields; a word only
  through a category, origin or shop name; typo matches. Within a tier the host bank's
  merchants come first, then ts_rank of the weighted vector, then sales.
"""

from catalog.search.queries import (
    QueryPlan,
    build_plan,
    build_tsquery,
    edit_distance_at_most_one,
    fuzzy_query,
    like_contains,
    own_query,
    whole_query,
)
from catalog.search.synonyms import SYNONYM_GROUPS, Synonyms, synonym_index
from catalog.search.text import (
    ADMIN_SUFFIX,
    ASCII_WORD,
    CJK,
    CONTROL,
    MAX_WORDS,
    OWN,
    QueryTooLong,
    check_query_length,
    max_query_length,
    normalize_query,
    normalize_text,
    query_words,
    to_simplified,
)
from catalog.search.tokens import (
    Document,
    ascii_tokens,
    cjk_grams,
    document_text,
    document_vector,
    full_pinyin,
    pinyin_suffixes,
    pinyin_tokens,
    split_aliases,
    vocabulary_terms,
    whole_names,
)

__all__ = [
    "ADMIN_SUFFIX", "ASCII_WORD", "CJK", "CONTROL", "MAX_WORDS", "OWN", "SYNONYM_GROUPS",
    "Document", "QueryPlan", "QueryTooLong", "Synonyms", "ascii_tokens", "build_plan",
    "build_tsquery", "check_query_length", "cjk_grams", "document_text", "document_vector",
    "edit_distance_at_most_one", "full_pinyin", "fuzzy_query", "like_contains",
    "max_query_length", "normalize_query", "normalize_text", "own_query", "pinyin_suffixes",
    "pinyin_tokens", "query_words", "split_aliases", "synonym_index", "to_simplified",
    "vocabulary_terms", "whole_names", "whole_query",
]
