"""Import hygiene: the package's modules form no import cycle (imports inside functions count: a
function-level import that closes a circle only hides it), and the reporting modules import no
torch when a page draws a table."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "dboost"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the dboost modules it imports, at module level or inside a function."""
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                # `from X import a`: the module X.a if there is one (X is then only its parent
                # package, already being imported), else X itself
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in files]
                targets = subs if len(subs) == len(node.names) else [target, *subs]
            else:
                continue
            graph[mod] |= {t for t in targets if t in files and t != mod}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_graph_sees_relative_and_function_level_imports():
    g = import_graph()
    assert "dboost.loss" in g["dboost.train"]                      # from .loss import ...
    assert "dboost.experiments.schedule" in g["dboost.experiments.architectures"]  # from .schedule import ...
    assert "dboost.registry" in g["dboost.experiments.configure"]  # from .. import registry
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package():
    assert _cycle(import_graph()) is None


# Over 400 lines and not split yet (issue 18): remove a name once its module is split; no other
# module may grow past 400 lines.
NOT_SPLIT_YET: set[str] = set()


def test_no_module_over_400_lines():
    long = {_module_name(p) for p in PKG.rglob("*.py") if len(p.read_text().splitlines()) > 400}
    assert long <= NOT_SPLIT_YET, sorted(long - NOT_SPLIT_YET)
    assert NOT_SPLIT_YET <= long, f"split now, drop from NOT_SPLIT_YET: {sorted(NOT_SPLIT_YET - long)}"


@pytest.mark.parametrize("mod", ["dboost.render.provenance", "dboost.render.tables", "dboost.render.figures",
                                 "dboost.render.summary", "dboost.render.conclusions", "dboost.render.caveats",
                                 "dboost.render.studies", "dboost.analysis.answer_box",
                                 "dboost.analysis", "dboost.config", "dboost.registry", "dboost.recipes",
                                 "dboost.pages"])
def test_reporting_imports_neither_experiments_nor_torch(mod):
    code = (f"import sys, {mod}; bad = [m for m in ('torch', 'dboost.experiments', 'dboost.models') if m in sys.modules]; "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
