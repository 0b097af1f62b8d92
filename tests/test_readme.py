"""The README is what a newcomer and Hugging Face Spaces read: check it says true things."""

import re
from pathlib import Path

import gradio
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _front_matter() -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", README, re.S)
    assert match, "README must start with Spaces front matter"
    return yaml.safe_load(match.group(1))


def test_spaces_front_matter_is_valid():
    meta = _front_matter()
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == gradio.__version__
    assert meta["python_version"] == "3.11" and isinstance(meta["python_version"], str)
    assert meta["app_file"] == "app.py" and (ROOT / meta["app_file"]).is_file()
    assert 0 < len(meta["short_description"]) <= 60


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", quick, re.S)
    assert commands == [
        "pip install -r requirements.txt && python app.py",
        "pip install -r requirements-dev.txt && python -m pytest",
    ]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_torch_is_pinned_to_the_cpu_wheel():
    reqs = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "torch==2.13.0" in reqs
