"""docs/security.md names the tests that prove each requirement: they must exist, and the
README's role table must be the one the security page explains."""

import ast
import re
from pathlib import Path

from placement.models.enums import Role

ROOT = Path(__file__).resolve().parent.parent
SECURITY = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_every_named_test_exists():
    references = REFERENCE.findall(SECURITY)
    assert len(references) > 60
    missing = []
    for file, name in references:
        path = ROOT / file
        if not path.exists():
            missing.append(file)
        elif name and name not in _test_names(path):
            missing.append(f"{file}::{name}")
    assert missing == []


def _role_table(text: str) -> list[str]:
    start = text.index("| role | persons")
    lines = text[start:].splitlines()
    end = next(i for i, line in enumerate(lines) if not line.startswith("|"))
    return lines[:end]


def test_readme_role_table_is_the_security_page_s():
    table = _role_table(SECURITY)
    assert _role_table(README) == table
    roles = [re.match(r"\| `(\w+)`", row).group(1) for row in table[2:]]
    assert roles == [role.value for role in Role]
