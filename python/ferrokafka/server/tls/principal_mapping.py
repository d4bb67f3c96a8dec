"""``ssl.principal.mapping.rules``: a client certificate's distinguished name to a user name.

Kafka's rule syntax (SslPrincipalMapper): a comma-separated list of ``DEFAULT`` (the DN as
is) and ``RULE:pattern/replacement/[LU]`` (when ``pattern`` matches the whole DN, the DN with
every match replaced, ``$n`` naming group n, then lower- or upper-cased). The first rule that
applies names the user; a DN no rule applies to is refused (:class:`NoMatchingRule`).
Patterns are Java regular expressions; the common subset (groups, classes, quantifiers,
anchors) means the same in Python's ``re``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_RULES = "DEFAULT"

# Kafka's rule grammar: DEFAULT, or RULE:pattern/replacement/[LU] with \-escapes inside the
# two parts, or anything else (refused below as an invalid rule).
_RULE = r"(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?).*?|(.*?)"
_SPLITTER = re.compile(r"\s*(" + _RULE + r")\s*(?:,\s*|$)")
_PARSER = re.compile(_RULE)
_BACK_REFERENCE = re.compile(r"\$(\d+)")


class NoMatchingRule(Exception):
    """No rule applies to a distinguished name."""


@dataclass(frozen=True)
class Rule:
    """One rule; ``pattern`` None is DEFAULT."""

    pattern: re.Pattern[str] | None
    replacement: str = ""
    case: str = ""  # "L", "U" or ""

    def apply(self, dn: str) -> str | None:
        if self.pattern is None:
            return dn
        if self.pattern.fullmatch(dn) is None:
            return None
        groups = self.pattern.groups
        result = self.pattern.sub(lambda m: _java_replacement(self.replacement, m, groups), dn)
        if self.case == "L":
            return result.lower()
        if self.case == "U":
            return result.upper()
        return result

    def __str__(self) -> str:
        if self.pattern is None:
            return "DEFAULT"
        return f"RULE:{self.pattern.pattern}/{self.replacement}/{self.case}"


def _java_replacement(template: str, match: re.Match[str], groups: int) -> str:
    """Java's Matcher.appendReplacement: ``$n`` is group n (a reference past the last group
    is cut a digit at a time, as Kafka's escapeLiteralBackReferences then Java do; none left:
    literal), ``\\x`` is x."""
    out: list[str] = []
    i = 0
    while i < len(template):
        char = template[i]
        if char == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
            continue
        ref = _BACK_REFERENCE.match(template, i)
        if char == "$" and ref is not None:
            digits = ref.group(1)
            number = int(digits)
            while number > groups and number >= 10:
                number //= 10
            if number > groups:  # no such group: the reference is literal text
                out.append(template[i : ref.end()])
                i = ref.end()
                continue
            out.append(match.group(number) or "")
            i += 1 + len(str(number))  # digits past the group number stay literal
            continue
        out.append(char)
        i += 1
    return "".join(out)


def parse_rules(text: str | None) -> list[Rule]:
    """Kafka's rule list; ValueError (one line) for an invalid rule or pattern."""
    text = DEFAULT_RULES if text is None else text
    rules: list[Rule] = []
    for match in _SPLITTER.finditer(text.strip()):
        source = match.group(1)
        if match.start() == match.end():
            break
        parsed = _PARSER.match(source)
        if parsed is None or parsed.end() != len(source):
            raise ValueError(f"invalid principal mapping rule: {source!r}")
        if parsed.group(1) is not None:
            rules.append(Rule(None))
        elif parsed.group(2) is not None:
            try:
                pattern = re.compile(parsed.group(2))
            except re.error as exc:
                raise ValueError(f"invalid pattern in rule {source!r}: {exc}") from None
            rules.append(Rule(pattern, parsed.group(3), parsed.group(4)))
        elif parsed.group(5):
            raise ValueError(f"invalid principal mapping rule: {source!r}")
    return rules


def map_name(rules: Sequence[Rule], dn: str) -> str:
    """The user name of ``dn``: the first rule's that applies."""
    for rule in rules:
        name = rule.apply(dn)
        if name is not None:
            return name
    raise NoMatchingRule(f"no rules apply to {dn}, rules [{', '.join(map(str, rules))}]")
