"""The README's Python blocks and the examples run as written."""

import pathlib
import re
import runpy

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_python_blocks(doc: str) -> int:
    """Run every ```python block of ``doc`` (relative to the repository) in one namespace, in order."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / doc).read_text(), flags=re.S)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, doc, "exec"), namespace)  # noqa: S102 - our own docs
    return len(blocks)


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_python_blocks("README.md") >= 2
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
    assert run_python_blocks("docs/search.md")
    assert (tmp_path / "trials.csv").exists()


def test_architecture_doc_worked_example_runs(capsys):
    assert run_python_blocks("docs/architecture.md") == 2  # a feature map and a trainer
    out = capsys.readouterr().out
    assert "torch.Size([1, 201])" in out and "torch.Size([1, 102]) True" in out


def test_architecture_doc_state_table_is_the_models():
    # the table in docs/architecture.md, docs/model.md and the ESN module docstring say the same
    import esnkit.models.esn as esn_module

    def rows(text):
        return [line.split("|")[1].strip().strip("`").split("(")[0] for line in text.splitlines()
                if line.startswith("| `") and "starts from" not in line]

    arch = (ROOT / "docs" / "architecture.md").read_text().split("Which calls start from", 1)[1]
    model = (ROOT / "docs" / "model.md").read_text().split("## State", 1)[1].split("| you want", 1)[0]
    table = esn_module.__doc__.split("Which calls start from", 1)[1]
    calls = [line.split()[0].strip("`") for line in table.splitlines() if line.startswith("``")]
    assert rows(arch) == rows(model) == calls == ["fit", "predict", "generate", "forecast", "forward", "states",
                                                   "score"]


def test_example_search_space_file_loads():
    import esnkit as ek

    space = ek.load_space(ROOT / "examples" / "search_space.toml")
    assert "spectral_radius" in space.params and space.fixed["reservoir_size"] == 500


def test_benchmarks_doc_python_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_python_blocks("docs/benchmarks.md")
    out = capsys.readouterr().out
    assert "nrmse84" in out


def test_benchmarks_doc_quotes_the_committed_full_run():
    # Every table row in the doc's results section must appear verbatim in the file the run wrote.
    doc = (ROOT / "docs" / "benchmarks.md").read_text()
    results = (ROOT / "benchmarks" / "results" / "bench" / "results.md").read_text()
    assert "full run" in results.splitlines()[0]
    section = doc.split("## Results", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows, "the results section quotes no table"
    for row in rows:
        assert row in results, f"docs/benchmarks.md quotes a row the run did not write: {row}"


def test_classification_doc_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_python_blocks("docs/classification.md") == 3


@pytest.mark.parametrize("doc, results", [("classification.md", "classification.md"),
                                          ("real-data.md", "real_data.md"), ("features.md", "features.md")])
def test_benchmark_sections_quote_the_committed_run(doc, results):
    text = (ROOT / "docs" / doc).read_text()
    written = (ROOT / "benchmarks" / "results" / results).read_text()
    section = text.split("## Benchmark", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows, "the benchmark section quotes no table"
    for row in rows:
        assert row in written, f"docs/{doc} quotes a row the run did not write: {row}"


def test_benchmarks_doc_family_section_quotes_the_committed_run():
    # Every table row of "## The model family" must appear verbatim in the file benchmarks/family.py wrote.
    doc = (ROOT / "docs" / "benchmarks.md").read_text()
    written = (ROOT / "benchmarks" / "results" / "family.md").read_text()
    assert "quick" not in written.splitlines()[0], "the docs quote a full run, not a --quick one"
    section = doc.split("## The model family", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 1, "the model family section quotes no table"
    for row in rows:
        assert row in written, f"docs/benchmarks.md quotes a row the run did not write: {row}"


def test_real_data_doc_python_blocks_run(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    assert run_python_blocks("docs/real-data.md") == 2
    assert (tmp_path / "forecast.csv").exists() and (tmp_path / "forecast.png").exists()


def test_features_doc_python_blocks_run(tmp_path, monkeypatch):
    pytest.importorskip("optuna")
    monkeypatch.chdir(tmp_path)
    assert run_python_blocks("docs/features.md") == 3


def test_spatiotemporal_doc_python_blocks_run(capsys):
    assert run_python_blocks("docs/spatiotemporal.md")
    assert "(400, 64) (400, 40) (4,)" in capsys.readouterr().out


def test_benchmarks_doc_spatiotemporal_section_quotes_the_committed_run():
    doc = (ROOT / "docs" / "benchmarks.md").read_text()
    written = "".join((ROOT / "benchmarks" / "results" / f).read_text()
                      for f in ("spatiotemporal.md", "spatiotemporal_l200.md"))
    section = doc.split("## Spatiotemporal chaos", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) > 2, "the spatiotemporal section quotes no table"
    for row in rows:
        assert row in written, f"docs/benchmarks.md quotes a row the run did not write: {row}"
