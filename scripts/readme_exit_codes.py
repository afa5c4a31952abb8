"""Rewrite the exit-code table of README.md from bidcrypt.cli.exit_codes (``--check`` only compares)."""

from __future__ import annotations

import sys
from pathlib import Path

from bidcrypt.cli.exit_codes import table

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- exit-codes:begin -->", "<!-- exit-codes:end -->"
FIXED = {
    0: "success (for `doctor`: healthy)",
    2: "wrong command-line usage",
    70: "internal error: a bug in bidcrypt (run it again as `bidcrypt -v ...` for the traceback)",
    129: "hung up (SIGHUP: the terminal was closed): cleaned up as after Ctrl-C",
    130: "interrupted (Ctrl-C); nothing partial is left",
    143: "terminated (SIGTERM, the default `kill`): cleaned up as after Ctrl-C",
}


def render() -> str:
    rows = [(code, f"`{error}`", text) for code, error, text in table()]
    rows += [(code, "", text) for code, text in FIXED.items()]
    lines = ["| exit | error code | meaning |", "| --- | --- | --- |"]
    lines += [
        f"| {code} | {error} | {text} |" for code, error, text in sorted(rows, key=lambda r: (r[0], r[1]))
    ]
    return "\n".join(lines)


def rewritten(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{render()}\n{END}{tail}"


def main() -> int:
    text = README.read_text()
    new = rewritten(text)
    if "--check" in sys.argv:
        if new != text:
            print(
                "README.md exit-code table is stale: run python scripts/readme_exit_codes.py", file=sys.stderr
            )
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
