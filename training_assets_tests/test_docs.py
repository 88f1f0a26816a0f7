"""The README and the docs site say what the code does: the two commands, the asset graph as
the code location defines it, every page in the site's nav, and a benchmark page that is the
output of `bench.page` on the recorded run, never a hand edit."""

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from bench import page
from bench.report import table

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block, in order."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S)


def test_readme_opens_with_the_two_commands_and_stays_short():
    text = README.read_text()
    language, body = fenced_blocks(text)[0]
    assert (language, body.splitlines()) == (
        "bash",
        ["bash scripts/setup.sh", ".venv/bin/python -m pytest"],
    )
    assert len(text.splitlines()) < 250


def drawn_graph_edges(path: Path) -> set[tuple[str, str]]:
    mermaid = [body for language, body in fenced_blocks(path.read_text()) if language == "mermaid"]
    assert len(mermaid) == 1, f"{path.name} holds one mermaid diagram, the asset graph"
    return set(re.findall(r"^\s*(\w+) --> (\w+)\s*$", mermaid[0], flags=re.M))


@pytest.mark.parametrize("path", [README, DOCS / "index.md"], ids=["README", "docs index"])
def test_drawn_graph_is_the_code_locations_graph(path):
    from training_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    edges = {
        (parent.to_user_string(), key.to_user_string())
        for key in graph.get_all_asset_keys()
        for parent in graph.get(key).parent_keys
    }
    drawn = drawn_graph_edges(path)
    assert drawn == edges, (
        f"{path.name}'s asset graph: drawn but not in the code location {sorted(drawn - edges)}; "
        f"in the code location but not drawn {sorted(edges - drawn)}"
    )


def nav_pages(nav: list) -> list[str]:
    pages = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_docs_page_is_in_the_nav_and_every_readme_link_resolves():
    # mkdocs.yml names a Python object in a tag, which safe_load refuses; the nav is plain.
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.Loader)  # noqa: S506
    pages = nav_pages(config["nav"])
    on_disk = sorted(path.name for path in DOCS.glob("*.md"))
    assert sorted(pages) == on_disk
    for target in re.findall(r"\]\((docs/[^)#]+)", README.read_text()):
        assert (ROOT / target).is_file(), f"README links to {target}, which does not exist"


def test_benchmark_page_is_the_output_of_its_script():
    results = json.loads(page.DATA.read_text())
    assert page.PAGE.read_text() == page.render(results), (
        "docs/benchmarks.md differs from what `python -m bench.page` writes from "
        "docs/data/benchmark_results.json: run it instead of editing the page"
    )


def test_benchmark_page_shows_the_runs_figures():
    results = json.loads(page.DATA.read_text())
    rendered = page.render(results)
    # The benchmark's own table, sizes smallest first.
    assert table(page.in_size_order(results)) in rendered
    # A figure changed in the data changes the page: nothing on it is typed in by hand.
    changed = copy.deepcopy(results)
    job = changed["sizes"]["100000000"]["steps"]["training_job"]
    job["wall_s"] = 321.0
    assert "in 321 s;" in page.render(changed)
    assert "in 321 s;" not in rendered


def test_mkdocs_hook_serves_the_rendered_page_whatever_the_file_holds():
    class File:
        src_uri = page.PAGE_NAME

    class Page:
        file = File()

    rendered = page.render(json.loads(page.DATA.read_text()))
    assert page.on_page_read_source(Page(), config=None) == rendered
    File.src_uri = "index.md"
    assert page.on_page_read_source(Page(), config=None) is None


def test_a_new_runs_results_are_recorded_with_where_they_came_from(tmp_path):
    # As bench.run writes it: keys sorted, so 100M comes before 30M as text.
    results = json.loads(page.DATA.read_text())
    del results["recorded"]
    results["config"] = {"sizes": [1000000, 10000000, 30000000, 100000000], "cpus": 2}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True))
    assert list(json.loads(path.read_text())["sizes"])[2] == "100000000"

    kept = page.record(path, "a quiet machine")

    assert list(kept["sizes"]) == ["1000000", "10000000", "30000000", "100000000"]
    assert kept["recorded"]["command"] == (
        "python -m bench.run --sizes 1000000 10000000 30000000 100000000"
    )
    assert kept["recorded"]["notes"] == ["a quiet machine"]
    rendered = page.render(kept)
    assert "- command: python -m bench.run --sizes 1000000" in rendered
    assert table(page.in_size_order(json.loads(path.read_text()))) in rendered
