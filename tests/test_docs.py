"""The README's Python blocks and the examples run as written."""

import pathlib
import re
import runpy

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own docs
    assert (tmp_path / "mg.esnkit").exists()


@pytest.mark.parametrize("name", ["mackey_glass.py", "pattern_generator.py"])
def test_examples_run(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(ROOT / "examples" / name), run_name="__main__")
    assert "NRMSE" in capsys.readouterr().out
    assert list(tmp_path.glob("*.png"))


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text().splitlines()
    assert "# 2. install what the tests need and run them" in ci
    i = readme.index("# 2. install what the tests need and run them")
    assert i < 15, "the README must open with its set-up commands"
    assert "pytest" in readme[i + 1] and "esnkit demo" in readme[i - 1]


def test_search_doc_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "search.md").read_text(), flags=re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/search.md", "exec"), namespace)  # noqa: S102 - our own docs
    assert (tmp_path / "trials.csv").exists()


def test_example_search_space_file_loads():
    import esnkit as ek

    space = ek.load_space(ROOT / "examples" / "search_space.toml")
    assert "spectral_radius" in space.params and space.fixed["reservoir_size"] == 500
