"""What a GBNF grammar will cost llama.cpp, measured from its text before llama.cpp sees it.

llama.cpp's grammar code trusts its input: a grammar it cannot parse becomes a null sampler
that crashes the process on the first token, group nesting is parsed by recursion (a deep
enough grammar overflows the native stack), a terminal no token can produce leaves it with
nothing to sample (an abort), and a repetition of something that may be empty makes every
token's check branch at each character (minutes per token). `measure` reads the grammar the
way llama.cpp's parser does and reports each of these as a number; `grammar_bounds` decides
which numbers are too big. It never recurses (nesting is what it measures) and takes one
pass over the text plus a few over the rules.

    ambiguity: the widest "nullable run", i.e. how many optional one-character positions
    sit side by side, counting repeated copies: `(a?b?){0,8}` is 16, `.?.?.?` is 3,
    `"," space kv` is 1 (`space ::= " "?`), `[0-9]{0,16}`'s nested optionals are 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_CODE_POINT = 0x10FFFF  # above it (and NUL) no token of a byte-level vocabulary is a match
_MAX_PASSES = 32  # fixpoint passes over the rules (recursive rules); then "at least" values
_SATURATED = 1 << 30

_LEXEME = re.compile(
    r"""
      (?P<skip>[ \t\r\n]+|\#[^\r\n]*)
    | (?P<define>::=)
    | (?P<name>[A-Za-z0-9-]+)
    | (?P<literal>"(?:[^"\\]|\\.)*")
    | (?P<chars>\[(?:[^\]\\]|\\.)*\])
    | (?P<repeat>\{[ \t]*(?P<lo>[0-9]+)[ \t]*(?P<comma>,[ \t]*(?P<hi>[0-9]*)[ \t]*)?\})
    | (?P<punct>[()|*+?.])
    | (?P<token>!?<[^>]*>)
    """,
    re.X | re.S,
)
_ESCAPE = re.compile(r"\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([\\\"\[\]nrt]))")
_SIMPLE_ESCAPES = {"n": 10, "r": 13, "t": 9, "\\": 92, '"': 34, "[": 91, "]": 93}


class GrammarSyntaxError(Exception):
    """Text llama.cpp's parser would refuse (which would crash it: a null sampler)."""


@dataclass(slots=True, frozen=True)
class GrammarShape:
    chars: int  # length of the grammar text
    rules: int  # named rules
    symbols: int  # rules llama.cpp builds: named, one per group, one per repeated copy
    nesting: int  # deepest group nesting inside one rule (llama.cpp parses it by recursion)
    repetition: int  # largest count in an explicit `{m,n}`
    ambiguity: int  # widest nullable run (see the module docstring)
    unmatchable: str | None  # the first terminal no token can produce, if any
    tokens: bool  # uses `<token>` references


@dataclass(slots=True)
class _Node:
    """One parsed item; the attributes are filled in by each evaluation pass."""

    kind: str  # "term" (one char), "lit" (a literal of `width` chars), "ref", "alt", "rep"
    width: int = 1
    ref: str = ""
    alts: list[list[_Node]] = field(default_factory=list)
    child: _Node | None = None
    lo: int = 0
    hi: int | None = None  # None: unbounded
    nullable: bool = False
    single: bool = False  # can match exactly one character
    through: int = 0  # nullable run across the node (nullable nodes)
    lead: int = 0  # nullable run at its start
    trail: int = 0  # nullable run at its end
    worst: int = 0  # widest run inside


def measure(gbnf: str) -> GrammarShape:
    """Raises GrammarSyntaxError for text llama.cpp would not parse."""
    if "\x00" in gbnf:  # the C string would end there, leaving a different grammar
        raise GrammarSyntaxError("the grammar contains a NUL character")
    parser = _Parser()
    for match in _LEXEME.finditer(gbnf):
        parser.feed(match)
    if parser.position != len(gbnf):
        raise GrammarSyntaxError(
            f"unexpected text at {gbnf[parser.position : parser.position + 20]!r}"
        )
    parser.finish()
    return GrammarShape(
        chars=len(gbnf),
        rules=len(parser.rules),
        symbols=len(parser.rules) + parser.synthesized,
        nesting=parser.deepest,
        repetition=parser.largest_repeat,
        ambiguity=_ambiguity(parser.rules, parser.nodes),
        unmatchable=parser.unmatchable,
        tokens=parser.tokens,
    )


class _Parser:
    """Iterative: a stack of open groups, each a list of alternatives (sequences)."""

    def __init__(self) -> None:
        self.rules: dict[str, _Node] = {}
        self.nodes: dict[str, list[_Node]] = {}  # each rule's nodes, children before parents
        self.position = 0
        self.synthesized = 0
        self.deepest = 0
        self.largest_repeat = 0
        self.unmatchable: str | None = None
        self.tokens = False
        self._name: str | None = None  # rule being read
        self._pending: str | None = None  # a name that may start the next rule
        self._stack: list[list[list[_Node]]] = []

    def feed(self, match: re.Match[str]) -> None:
        if match.start() != self.position:
            raise GrammarSyntaxError(f"unexpected character at offset {self.position}")
        self.position = match.end()
        kind = match.lastgroup
        if kind == "skip":
            return
        if self._pending is not None:
            name, self._pending = self._pending, None
            if kind == "define":
                self._start_rule(name)
                return
            self._item(_Node("ref", ref=name))
        text = match.group()
        if kind == "name":
            self._pending = text
        elif kind == "define":
            raise GrammarSyntaxError("'::=' without a rule name")
        elif kind == "literal":
            self._literal(text)
        elif kind == "chars":
            self._chars(text)
        elif kind == "token":
            self.tokens = True
            self._item(_Node("term"))
        elif kind == "repeat":
            lo, hi = int(match["lo"]), match["hi"]
            upper = lo if match["comma"] is None else (int(hi) if hi else None)
            self.largest_repeat = max(self.largest_repeat, lo, upper or 0)
            self._repeat(lo, upper)
        else:
            self._punct(text)

    def finish(self) -> None:
        if self._pending is not None:
            name, self._pending = self._pending, None
            self._item(_Node("ref", ref=name))
        self._end_rule()
        if "root" not in self.rules:
            raise GrammarSyntaxError("the grammar has no 'root' rule")
        for nodes in self.nodes.values():
            for node in nodes:
                if node.kind == "ref" and node.ref not in self.rules:
                    raise GrammarSyntaxError(f"undefined rule '{node.ref}'")

    # --- structure -----------------------------------------------------------------

    def _start_rule(self, name: str) -> None:
        self._end_rule()
        if name in self.rules:
            raise GrammarSyntaxError(f"rule '{name}' is defined twice")
        self._name = name
        self.nodes[name] = []
        self._stack = [[[]]]

    def _end_rule(self) -> None:
        if self._name is None:
            return
        if len(self._stack) != 1:
            raise GrammarSyntaxError(f"unclosed '(' in rule '{self._name}'")
        self.rules[self._name] = self._add(_Node("alt", alts=self._stack[0]))
        self._name = None

    def _item(self, node: _Node) -> None:
        if self._name is None:
            raise GrammarSyntaxError("text before the first rule")
        self._stack[-1][-1].append(self._add(node))

    def _add(self, node: _Node) -> _Node:
        assert self._name is not None
        self.nodes[self._name].append(node)
        return node

    def _punct(self, text: str) -> None:
        if self._name is None:
            raise GrammarSyntaxError("text before the first rule")
        if text == "(":
            self._stack.append([[]])
            self.deepest = max(self.deepest, len(self._stack) - 1)
        elif text == ")":
            if len(self._stack) < 2:
                raise GrammarSyntaxError("unbalanced ')'")
            self.synthesized += 1
            self._item(_Node("alt", alts=self._stack.pop()))
        elif text == "|":
            self._stack[-1].append([])
        elif text == ".":
            self._item(_Node("term"))
        else:
            self._repeat(*{"?": (0, 1), "*": (0, None), "+": (1, None)}[text])

    def _repeat(self, lo: int, hi: int | None) -> None:
        sequence = self._stack[-1][-1] if self._stack else []
        if not sequence:
            raise GrammarSyntaxError("a repetition without a preceding item")
        self.synthesized += 1 if hi is None else max(hi - lo, 0)
        child = sequence.pop()
        sequence.append(self._add(_Node("rep", child=child, lo=lo, hi=hi)))

    # --- terminals -----------------------------------------------------------------

    def _literal(self, text: str) -> None:
        points = _decode(text[1:-1])
        if any(point == 0 or point > MAX_CODE_POINT for point in points):
            self.unmatchable = self.unmatchable or text
        self._item(_Node("term") if len(points) == 1 else _Node("lit", width=len(points)))

    def _chars(self, text: str) -> None:
        body = text[1:-1]
        negated = body.startswith("^")
        points = _decode(body[1:] if negated else body)
        ranges: list[tuple[int, int]] = []
        index = 0
        while index < len(points):
            if index + 2 < len(points) and points[index + 1] == 45:  # "a-z"
                ranges.append((points[index], points[index + 2]))
                index += 3
            else:
                ranges.append((points[index], points[index]))
                index += 1
        if not ranges:
            raise GrammarSyntaxError(f"empty character class {text}")
        if not _admits_some(ranges, negated):
            self.unmatchable = self.unmatchable or text
        self._item(_Node("term"))


def _decode(body: str) -> list[int]:
    """Code points of a literal's or class's text, escapes resolved as llama.cpp does."""
    points: list[int] = []
    index = 0
    while index < len(body):
        if body[index] != "\\":
            points.append(ord(body[index]))
            index += 1
            continue
        match = _ESCAPE.match(body, index)
        if match is None:
            raise GrammarSyntaxError(f"unknown escape {body[index : index + 2]!r}")
        hex_digits = match[1] or match[2] or match[3]
        points.append(int(hex_digits, 16) if hex_digits else _SIMPLE_ESCAPES[match[4]])
        index = match.end()
    return points


def _admits_some(ranges: list[tuple[int, int]], negated: bool) -> bool:
    """Whether the class matches some code point in 1..MAX_CODE_POINT."""
    if not negated:
        return any(hi >= 1 and lo <= MAX_CODE_POINT and lo <= hi for lo, hi in ranges)
    covered = 1  # lowest code point not yet known to be excluded
    for lo, hi in sorted(ranges):
        if lo > covered:
            return True
        covered = max(covered, hi + 1)
    return covered <= MAX_CODE_POINT


# --- ambiguity --------------------------------------------------------------------------


def _ambiguity(rules: dict[str, _Node], nodes: dict[str, list[_Node]]) -> int:
    """Evaluate the rules, each after those it refers to, until no value changes (only
    recursive rules need a second pass); each rule's nodes are children first."""
    order = _dependency_order(nodes)
    for _ in range(_MAX_PASSES):
        changed = False
        for name in order:
            before = _signature(rules[name])
            for node in nodes[name]:
                _evaluate(node, rules)
            changed = changed or before != _signature(rules[name])
        if not changed:
            return max((node.worst for name in order for node in nodes[name]), default=0)
    return _SATURATED  # still growing: a recursion through optional parts


def _dependency_order(nodes: dict[str, list[_Node]]) -> list[str]:
    """Rules in depth-first post-order of their references (iterative: no recursion)."""
    refs = {name: [n.ref for n in body if n.kind == "ref"] for name, body in nodes.items()}
    order: list[str] = []
    seen: set[str] = set()
    for start in nodes:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(refs[start]))]
        while stack:
            name, pending = stack[-1]
            child = next((ref for ref in pending if ref not in seen), None)
            if child is None:
                order.append(name)
                stack.pop()
            else:
                seen.add(child)
                stack.append((child, iter(refs[child])))
    return order


def _signature(node: _Node) -> tuple[bool, bool, int, int, int]:
    return node.nullable, node.single, node.through, node.lead, node.trail


def _evaluate(node: _Node, rules: dict[str, _Node]) -> None:
    if node.kind == "term":
        node.single = True
    elif node.kind == "lit":
        node.nullable = node.width == 0
    elif node.kind == "ref":
        rule = rules[node.ref]
        node.nullable, node.single = rule.nullable, rule.single
        node.through, node.lead, node.trail = rule.through, rule.lead, rule.trail
    elif node.kind == "alt":
        _evaluate_alternatives(node)
    else:
        _evaluate_repetition(node)


def _evaluate_alternatives(node: _Node) -> None:
    node.nullable = node.single = False
    node.through = node.lead = node.trail = node.worst = 0
    for items in node.alts:
        nullable, single, lead, trail, worst = _sequence(items)
        node.nullable = node.nullable or nullable
        node.single = node.single or single
        if nullable:
            node.through = max(node.through, lead)
        node.lead = max(node.lead, lead)
        node.trail = max(node.trail, trail)
        node.worst = max(node.worst, worst)


def _sequence(items: list[_Node]) -> tuple[bool, bool, int, int, int]:
    """(nullable, single, lead, trail, worst) of a sequence; a nullable one's lead, trail
    and through are the same run."""
    run = worst = 0
    lead = -1
    required = 0
    single = required_single = False
    for item in items:
        worst = max(worst, item.worst)
        if item.nullable:
            run = min(run + item.through, _SATURATED)
            single = single or item.single
            continue
        required += 1
        required_single = item.single  # with one required item, one char iff it is
        worst = max(worst, run + item.lead)
        if lead < 0:
            lead = run + item.lead
        run = item.trail
    if required == 0:
        return True, single, run, run, max(worst, run)
    return False, required_single and required == 1, lead, run, max(worst, run)


def _evaluate_repetition(node: _Node) -> None:
    child = node.child
    assert child is not None
    node.nullable = node.lo == 0 or child.nullable
    node.single = child.single and (node.lo <= 1 or child.nullable)
    copies = node.hi if node.hi is not None else 1
    if child.nullable:  # every copy may be skipped: the runs add up
        node.through = min(child.through * max(copies, 1), _SATURATED)
        node.lead = node.trail = node.through
        node.worst = max(child.worst, node.through)
        return
    unit = child.lead + (1 if child.single else 0)  # an optional copy: skip it or start it
    repeated = node.hi is None or node.hi > max(node.lo, 1)
    node.through = unit if node.lo == 0 else 0
    node.lead = unit if node.lo == 0 else child.lead
    node.trail = unit if node.lo == 0 else child.trail + (unit if repeated else 0)
    between = child.trail + child.lead if node.hi is None or node.hi >= 2 else 0  # X X
    node.worst = max(child.worst, unit, between, child.trail + unit if repeated else 0)


def rule_references(text: str) -> set[str]:
    """The rule names a GBNF expression refers to."""
    return {match.group() for match in _LEXEME.finditer(text) if match.lastgroup == "name"}
