"""The layout holds: app.py is wiring, no module is a room of its own, the app never imports the
training code, and every tab module has the same four parts."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ui", "models", "viz", "training", "benchmarks")


def test_app_py_is_wiring_only():
    assert len((ROOT / "app.py").read_text(encoding="utf-8").splitlines()) < 150


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for pkg in PACKAGES
                                        for p in (ROOT / pkg).rglob("*.py")))
def test_no_module_over_about_400_lines(path):
    assert len((ROOT / path).read_text(encoding="utf-8").splitlines()) <= 420, path


def test_starting_the_app_imports_no_training_code():
    code = ("import sys, app; from ui.page import build_demo; build_demo(); "
            "print(sorted(m for m in sys.modules if m == 'training' or m.startswith('training.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_every_tab_module_has_its_four_parts():
    from ui import tabs

    assert len(tabs.IDS) == len(set(tabs.IDS)) == len(tabs.TABS)
    for tab in tabs.TABS:
        assert isinstance(tab.ID, str) and isinstance(tab.LABEL, str), tab.__name__
        assert callable(tab.build) and callable(tab.numbers), tab.__name__
        assert tab.__doc__, tab.__name__
