"""Codemod: an error's detail built with ``pick(en, zh)`` at raise time becomes a lazy ``Text(en, zh, ...)``.

The rule, applied to every module of ``bidcrypt`` (``i18n`` excepted):

- A call ``pick(A, B)`` with exactly two arguments, each a string literal or
  an f-string (implicit concatenations included), that stands anywhere in the
  arguments of a call to a bidcrypt error class (a class defined in
  ``bidcrypt/errors/``, called by its name), and is neither an operand (``+``)
  nor the object of a method call (``.strip()``), becomes
  ``Text(A', B', name=expr, ...)`` (with a trailing comma when it has
  parameters, so that ``ruff format`` puts one argument on a line).
- ``A'`` and ``B'`` are the same literals without the ``f`` prefix: each
  replacement field ``{expr}`` becomes ``{name}``, and ``name=expr`` is passed
  once (the same expression in both languages gives one name). A field with a
  conversion or a format spec passes ``repr(expr)`` / ``str(expr)`` /
  ``ascii(expr)`` / ``format(expr, "spec")``. Literal braces of a plain
  (non-f) string are doubled; an f-string's ``{{``/``}}`` stay as they are.
- The name is the expression's last identifier (``entry.path`` -> ``path``,
  ``visible(extra.name)`` -> ``name``, ``type(exc).__name__`` -> ``exc_name``;
  wrappers ``visible``/``str``/``repr``/``type``/``len`` and a method's first
  argument are looked through), numbered on a clash; ``value`` otherwise.
- The same for ``x = pick(A, B)`` in a function where the name ``x`` is used
  in the arguments of a bidcrypt error class call (a detail or a parameter
  kept in a variable first), when every assignment to ``x`` in that function
  is such a ``pick``.
- Helpers that take an (en, zh) pair and build an error from ``pick`` of it
  (:data:`PAIR_HELPERS`: ``ber.malformed(en, zh)``, ``ledger_check._invalid
  (ledger, en, zh)``): at each call, the last two arguments, when literals,
  become one ``Text(...)``, and the helpers themselves take a ``Text``
  (:data:`HELPER_DEFINITIONS`, replaced as text where found).
- ``Text`` is added to the module's ``from bidcrypt.i18n import ...`` (and
  ``pick`` dropped from it when no longer used).

Every other ``pick`` call (outside an error's arguments, with non-literal
arguments, or concatenated) is listed on stderr for review: render-time text
stays ``pick``; a value that flows into an error through a variable or a
helper function is converted by hand.

Usage: ``python scripts/pick_to_text.py [--check] [files...]`` (default: all
of ``bidcrypt``), then ``ruff check --fix`` and ``ruff format``.
"""

from __future__ import annotations

import argparse
import ast
import io
import keyword
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_ERRORS = ROOT / "bidcrypt" / "errors"


def _error_classes() -> frozenset[str]:
    """The names of the classes defined in ``bidcrypt/errors`` (a module or a package)."""
    files = sorted(_ERRORS.glob("*.py")) if _ERRORS.is_dir() else [_ERRORS.with_suffix(".py")]
    return frozenset(
        node.name
        for path in files
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
    )


_ERROR_CLASSES = _error_classes()
#: Functions whose last two arguments are an (en, zh) pair of an error's detail.
PAIR_HELPERS = frozenset({"malformed", "_invalid"})
#: Their definitions, before and after: they take the detail as one Text.
HELPER_DEFINITIONS = (
    (
        "def malformed(en: str, zh: str) -> MalformedEnvelopeError:\n"
        '    """A :class:`MalformedEnvelopeError` whose detail is *en* or *zh* by locale."""\n'
        "    return MalformedEnvelopeError(pick(en, zh))\n",
        "def malformed(detail: Text) -> MalformedEnvelopeError:\n"
        '    """A :class:`MalformedEnvelopeError` with *detail* (rendered when shown)."""\n'
        "    return MalformedEnvelopeError(detail)\n",
    ),
    (
        "def _invalid(ledger: Ledger, en: str, zh: str) -> None:\n"
        "    raise LedgerError(pick(en, zh), path=ledger.path)\n",
        "def _invalid(ledger: Ledger, detail: Text) -> None:\n"
        "    raise LedgerError(detail, path=ledger.path)\n",
    ),
)
_WRAPPERS = {"visible", "str", "repr", "type", "len", "terminal_safe", "sorted", "list"}


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _is_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _is_pick(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "pick"
        and len(node.args) == 2
        and not node.keywords
    )


def _name_of(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("__"):
            return f"{_name_of(node.value)}_{node.attr.strip('_')}"
        return node.attr.lstrip("_")
    if isinstance(node, ast.Call):
        name = _callee(node)
        if node.args and (name in _WRAPPERS or isinstance(node.func, ast.Attribute)):
            return _name_of(node.args[0])
        return name.lstrip("_") or "value"
    if isinstance(node, ast.Subscript):
        return _name_of(node.value)
    return "value"


def _split_field(body: str) -> tuple[str, str | None, str | None]:
    """A replacement field's text (without braces) as (expression, conversion, spec)."""
    depth = 0
    quote: str | None = None
    i = 0
    while i < len(body):
        ch = body[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch == "!" and body[i + 1 : i + 2] != "=":
            rest = body[i + 1 :]
            conversion, _, spec = rest.partition(":")
            return body[:i], conversion.strip(), spec if ":" in rest else None
        elif depth == 0 and ch == ":":
            return body[:i], None, body[i + 1 :]
        i += 1
    return body, None, None


def _fields(literal: str) -> list[tuple[int, int, str]]:
    """(start, end, inner text) of each replacement field of an f-string token's body."""
    out = []
    i = 0
    while i < len(literal):
        if literal.startswith("{{", i) or literal.startswith("}}", i):
            i += 2
            continue
        if literal[i] == "{":
            depth, j, quote = 1, i + 1, None
            while depth:
                ch = literal[j]
                if quote:
                    if ch == quote:
                        quote = None
                elif ch in "'\"":
                    quote = ch
                elif ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                j += 1
            out.append((i, j, literal[i + 1 : j - 1]))
            i = j
            continue
        i += 1
    return out


class _Params:
    def __init__(self) -> None:
        self.by_source: dict[str, str] = {}
        self.values: dict[str, str] = {}

    def name_for(self, field: str) -> str:
        expression, conversion, spec = _split_field(field)
        expression = " ".join(expression.split())
        key = f"{expression}!{conversion}:{spec}"
        if key in self.by_source:
            return self.by_source[key]
        try:
            base = _name_of(ast.parse(expression, mode="eval").body)
        except SyntaxError:
            base = "value"
        if not base.isidentifier() or keyword.iskeyword(base):
            base = "value"
        name, n = base, 2
        while name in self.values:
            name, n = f"{base}{n}", n + 1
        value = expression
        if conversion:
            value = {"r": "repr", "s": "str", "a": "ascii"}[conversion] + f"({value})"
        if spec:
            value = f"format({value}, {spec!r})"
        self.by_source[key] = name
        self.values[name] = value
        return name


def _rewrite_string(token: str, params: _Params) -> str:
    match = re.match(r"([A-Za-z]*)(\"\"\"|'''|\"|')", token)
    assert match is not None
    prefix, quote = match.groups()
    body = token[len(prefix) + len(quote) : len(token) - len(quote)]
    if "f" not in prefix.lower():
        return prefix + quote + body.replace("{", "{{").replace("}", "}}") + quote
    out, last = [], 0
    for start, end, inner in _fields(body):
        out.append(body[last:start])
        out.append("{" + params.name_for(inner) + "}")
        last = end
    out.append(body[last:])
    return prefix.replace("f", "").replace("F", "") + quote + "".join(out) + quote


def _convert_call(source: str) -> str:
    """The source of ``pick(...)`` as ``Text(...)``."""
    params = _Params()
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    pieces = []
    last_line, last_col = 1, 0
    lines = source.splitlines(keepends=True)

    def offset(line: int, col: int) -> int:
        return sum(len(x) for x in lines[: line - 1]) + col

    position = 0
    for token in tokens:
        if token.type == tokenize.ENDMARKER:
            break
        start, end = offset(*token.start), offset(*token.end)
        pieces.append(source[position:start])
        text = token.string
        if token.type == tokenize.STRING:
            text = _rewrite_string(text, params)
        elif token.type == tokenize.NAME and text == "pick" and position == 0:
            text = "Text"
        pieces.append(text)
        position = end
    pieces.append(source[position:])
    del last_line, last_col
    converted = "".join(pieces).rstrip()
    assert converted.endswith(")")
    head = converted[:-1].rstrip()
    extra = ", ".join(f"{name}={value}" for name, value in params.values.items())
    if extra:  # with a trailing comma, so that ruff format puts each argument on its own line
        head = head + (" " if head.endswith(",") else ", ") + extra + ","
    return head + ")"


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _in_error_call(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    if isinstance(parents.get(node), ast.BinOp | ast.Attribute):
        return False  # pick(...) + text, pick(...).strip(): to be written as one template by hand
    child, parent = node, parents.get(node)
    while parent is not None and not isinstance(parent, ast.stmt):
        if (
            isinstance(parent, ast.Call)
            and child is not parent.func
            and isinstance(parent.func, ast.Name)
            and parent.func.id in _ERROR_CLASSES
        ):
            return True
        if isinstance(parent, ast.Lambda | ast.FunctionDef):
            return False
        child, parent = parent, parents.get(parent)
    return False


def convert(path: Path) -> tuple[str, list[str]]:
    """The converted source of *path*, and the ``pick`` calls left as they are (for review)."""
    source = original = path.read_text(encoding="utf-8")
    for before, after in HELPER_DEFINITIONS:
        source = source.replace(before, after)
    tree = ast.parse(source)
    parents = _parents(tree)
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def span(node: ast.expr) -> tuple[int, int]:
        assert node.end_lineno is not None and node.end_col_offset is not None
        # ast offsets are in UTF-8 bytes within a line
        first = lines[node.lineno - 1].encode()[: node.col_offset].decode()
        last = lines[node.end_lineno - 1].encode()[: node.end_col_offset].decode()
        return starts[node.lineno - 1] + len(first), starts[node.end_lineno - 1] + len(last)

    edits: list[tuple[int, int, str]] = []
    left: list[str] = []
    kept = _kept_for_errors(tree, parents)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node) in PAIR_HELPERS and len(node.args) >= 2:
            en, zh = node.args[-2:]
            if _is_literal(en) and _is_literal(zh) and not node.keywords:
                start, end = span(en)[0], span(zh)[1]
                pair = f"pick({source[start : span(en)[1]]}, {source[span(zh)[0] : end]})"
                edits.append((start, end, _convert_call(pair)))
            continue
        if not _is_pick(node):
            continue
        assert isinstance(node, ast.Call)
        inside = any(_is_pick(p) for p in _ancestors(node, parents))
        if inside:
            left.append(f"{path}:{node.lineno}: pick inside pick")
            continue
        if (_in_error_call(node, parents) or node in kept) and all(_is_literal(a) for a in node.args):
            start, end = span(node)
            edits.append((start, end, _convert_call(source[start:end])))
        else:
            left.append(f"{path}:{node.lineno}")
    if not edits:
        return source if source == original else _import_text(source), left
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    source = _import_text(source)
    return source, left


def _kept_for_errors(tree: ast.AST, parents: dict[ast.AST, ast.AST]) -> set[ast.AST]:
    """``pick`` calls assigned to a name that an error class call in the same function uses."""
    kept: set[ast.AST] = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        used = {
            name.id
            for call in ast.walk(function)
            if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id in _ERROR_CLASSES
            for argument in [*call.args, *(k.value for k in call.keywords)]
            for name in ast.walk(argument)
            if isinstance(name, ast.Name)
        }
        assigned: dict[str, list[ast.expr]] = {}
        for node in ast.walk(function):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
                targets = [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        value = node.value if isinstance(node, ast.Assign) and len(targets) == 1 else None
                        assigned.setdefault(name.id, []).append(value if value is not None else target)
        for name, values in assigned.items():
            literal = [
                v for v in values if isinstance(v, ast.Call) and _is_pick(v) and all(map(_is_literal, v.args))
            ]
            if name in used and len(literal) == len(values):
                kept.update(literal)
    return kept


def _ancestors(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[ast.AST]:
    out = []
    while node in parents:
        node = parents[node]
        out.append(node)
    return out


def _import_text(source: str) -> str:
    match = re.search(r"^from bidcrypt\.i18n import ([^\n(]+)$", source, re.M)
    if match is None:
        first_import = re.compile(r"^(from bidcrypt[.\w]* import [^\n]+\n)", re.M)
        return first_import.sub(r"\1from bidcrypt.i18n import Text\n", source, count=1)
    names = {n.strip() for n in match.group(1).split(",")} | {"Text"}
    still_picks = any(
        isinstance(node, ast.Name) and node.id == "pick" for node in ast.walk(ast.parse(source))
    )
    if not still_picks:
        names.discard("pick")
    return source[: match.start(1)] + ", ".join(sorted(names)) + source[match.end(1) :]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    files = args.files or sorted(p for p in (ROOT / "bidcrypt").rglob("*.py") if p.name != "i18n.py")
    changed = 0
    for path in files:
        new, left = convert(path)
        for line in left:
            print(f"left: {line}", file=sys.stderr)
        if new != path.read_text(encoding="utf-8"):
            changed += 1
            print(f"converted: {path}")
            if not args.check:
                path.write_text(new, encoding="utf-8")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
