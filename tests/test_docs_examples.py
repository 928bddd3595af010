"""Every example in README.md and docs/*.md runs as written.

For each Markdown file, its ```python blocks run in order, top to bottom, as one
script in a fresh interpreter, and its ```bash blocks likewise as one ``bash -e``
script; both in a temporary directory, with a fresh Keras home (no ``keras.json``)
and no ``KERAS_BACKEND``: a newcomer's setup. The README's examples run as after its
own install command, ``pip install -e ".[jax]"``: TensorFlow and PyTorch cannot be
imported, and ``.venv`` in the working directory is this interpreter's environment.

A comment on the line before a block marks it:

- ``<!-- docs-test: skip (reason) -->``: not run (installs, hour-long campaigns);
- ``<!-- docs-test: slow (reason) -->``: its file's script is a ``slow`` test;
- ``<!-- docs-test: alone (reason) -->``: runs as a script of its own (one that
  chooses another Keras backend, say).

Each needs a reason in parentheses. Blocks in other languages (``text``, ...) are
not run; a fence without a language is an error, so that nothing escapes silently.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_LANGUAGES = ("python", "bash")
# The README documents the JAX-only install: its examples must run without these.
_JAX_ONLY_FILES = ("README.md",)
_HIDDEN_PACKAGES = ("tensorflow", "torch")
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<kind>\w+)\s*(?P<rest>.*?)\s*-->\s*$")
_TIMEOUT_S = 600
MARKERS = ("skip", "slow", "alone")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    marker: str | None  # one of MARKERS
    reason: str | None


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def parse_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with their docs-test markers."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        start = i
        end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```"), None)
        if end is None:
            raise ValueError(f"{path.name}:{start + 1}: unclosed code fence")
        previous = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = _MARKER.match(previous.strip())
        kind = reason = None
        if marker is not None:
            kind = marker["kind"]
            found = re.fullmatch(r"\((.*\S.*)\)", marker["rest"])
            reason = found.group(1).strip() if found else None
        blocks.append(
            Block(path, start + 1, fence.group(1), "\n".join(lines[start + 1 : end]), kind, reason)
        )
        i = end + 1
    return blocks


def scripts(path: Path, language: str) -> list[list[Block]]:
    """The scripts of one file and language: its blocks in order, then each ``alone`` block."""
    blocks = [b for b in parse_blocks(path) if b.language == language and b.marker != "skip"]
    together = [b for b in blocks if b.marker != "alone"]
    return ([together] if together else []) + [[b] for b in blocks if b.marker == "alone"]


def _cases() -> list:
    cases = []
    for path in markdown_files():
        for language in RUN_LANGUAGES:
            for index, script in enumerate(scripts(path, language)):
                name = f"{path.relative_to(ROOT)}-{language}"
                if script[0].marker == "alone":
                    name += f"-line{script[0].line}"
                slow = any(b.marker == "slow" for b in script)
                cases.append(
                    pytest.param(
                        path, language, index, id=name,
                        marks=[pytest.mark.slow] if slow else [],
                    )
                )
    return cases


def test_every_block_has_a_language_and_every_marker_a_reason():
    problems = []
    for path in markdown_files():
        for block in parse_blocks(path):
            where = f"{path.relative_to(ROOT)}:{block.line}"
            if not block.language:
                problems.append(f"{where}: a fence without a language (python, bash, text, ...)")
            if block.marker is not None and block.marker not in MARKERS:
                problems.append(f"{where}: unknown docs-test marker {block.marker!r}")
            elif block.marker is not None and not block.reason:
                problems.append(f"{where}: the docs-test {block.marker} marker needs a (reason)")
    assert not problems, "\n".join(problems)


_SETUP_PREFIX = re.compile(r"^python3 -m venv \.venv && \.venv/bin/pip install [^&]*&& ", re.M)
"""The set-up that starts the README's main command: ``.venv`` is this interpreter's
environment here, so the command runs from what follows the set-up."""


def _script(blocks: list[Block], language: str) -> str:
    comment = "#"
    parts = ["set -e -o pipefail"] if language == "bash" else []
    for block in blocks:
        parts.append(f"{comment} --- {block.path.relative_to(ROOT)}:{block.line}")
        parts.append(_SETUP_PREFIX.sub("", block.code) if language == "bash" else block.code)
    return "\n".join(parts) + "\n"


def test_the_readme_opens_with_its_two_commands():
    """The README's first two blocks: set up and run the main job; set up and run the tests."""
    first, second = parse_blocks(ROOT / "README.md")[:2]
    assert first.language == second.language == "bash"
    assert _SETUP_PREFIX.match(first.code) and first.marker is None
    assert ".venv/bin/liquidtime compare --task occupancy" in first.code
    assert _SETUP_PREFIX.match(second.code) and second.code.endswith("-m pytest -n 2")
    # .ci/run runs the same set-up and test run (with the lint check in between).
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    setup, tests = second.code.rsplit(" && ", 1)
    assert ci_lines.index(setup) < ci_lines.index(tests)


def _hide_packages(directory: Path) -> None:
    """A ``sitecustomize`` that makes TensorFlow and PyTorch unimportable."""
    directory.mkdir()
    # Every finder is wrapped to find nothing for the hidden packages, so that they
    # behave as not installed (importlib.util.find_spec returns None).
    (directory / "sitecustomize.py").write_text(
        "import sys\n\n"
        "class _Hide:\n"
        "    def __init__(self, finder):\n"
        "        self._finder = finder\n\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {_HIDDEN_PACKAGES!r}:\n"
        "            return None\n"
        "        find_spec = getattr(self._finder, 'find_spec', None)\n"
        "        return None if find_spec is None else find_spec(name, path, target)\n\n"
        "    def __getattr__(self, name):\n"
        "        return getattr(self._finder, name)\n\n"
        "sys.meta_path[:] = [_Hide(finder) for finder in sys.meta_path]\n"
    )


@pytest.mark.parametrize(("path", "language", "index"), _cases())
def test_examples_run_as_written(path: Path, language: str, index: int, tmp_path: Path):
    blocks = scripts(path, language)[index]
    work = tmp_path / "work"
    work.mkdir()
    script = work / ("example.py" if language == "python" else "example.sh")
    script.write_text(_script(blocks, language))
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "PYTHONPATH")}
    env["KERAS_HOME"] = str(tmp_path / "keras_home")
    env["MPLBACKEND"] = "Agg"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if path.name in _JAX_ONLY_FILES:
        _hide_packages(tmp_path / "site")
        env["PYTHONPATH"] = str(tmp_path / "site")
    (work / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    command = [sys.executable, script.name] if language == "python" else ["bash", script.name]
    result = subprocess.run(
        command, cwd=work, env=env, capture_output=True, text=True, timeout=_TIMEOUT_S
    )
    assert result.returncode == 0, (
        f"{path.relative_to(ROOT)} ({language} blocks from line {blocks[0].line}) failed:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )


def test_collector_reads_markers_and_reasons(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Text.\n\n<!-- docs-test: skip (installs packages) -->\n```bash\npip install x\n```\n\n"
        "```python\nprint(1)\n```\n<!-- docs-test: slow -->\n\n```text\nplain\n```\n"
    )
    blocks = parse_blocks(page)
    assert [(b.language, b.marker, b.reason, b.line) for b in blocks] == [
        ("bash", "skip", "installs packages", 4),
        ("python", None, None, 8),
        ("text", "slow", None, 13),
    ]
