"""The profile page shows what other apps know about a person (roles, for now).

accounts is at the base of the dependency graph and imports none of them; apps register a
function ``section(user) -> list[str]`` when they start.
"""

from collections.abc import Callable

_sections: list[Callable] = []


def register_profile_section(func: Callable) -> None:
    if func not in _sections:
        _sections.append(func)


def profile_lines(user) -> list[str]:
    lines: list[str] = []
    for section in _sections:
        lines.extend(section(user))
    return lines
