"""The built book in headless Chromium, with every network host unreachable: the intro page
shows its figure, MathJax typesets the math, and saved widget state renders -- all from local
files. Skipped (with the reason) only when no Chromium is installed (`.ci/run` installs the
Debian package `chromium`)."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from support import HEADLESS_FLAGS, find_chromium

FLAGS = [
    *HEADLESS_FLAGS,
    # every host name fails to resolve: anything fetched from a CDN would be missing
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
    "--virtual-time-budget=8000",
]


@pytest.fixture(scope="module")
def chromium():
    return find_chromium("the rendering test")


def browse(chromium: str, page: Path, tmp_path: Path, *, screenshot: Path | None = None) -> str:
    """Load ``page`` headless; return the DOM after scripts ran (and write a screenshot)."""
    flags = [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    if screenshot is not None:
        subprocess.run([chromium, *flags, "--window-size=1200,2000", f"--screenshot={screenshot}",
                        page.as_uri()], capture_output=True, timeout=120, check=True)
    out = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout


class _Resources(HTMLParser):
    """Script sources, stylesheet links and images of an HTML page."""

    def __init__(self):
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "link" and "stylesheet" in (a.get("rel") or "") and a.get("href"):
            self.styles.append(a["href"])
        elif tag == "img" and a.get("src"):
            self.images.append(a["src"])


def resources(html: str) -> _Resources:
    parser = _Resources()
    parser.feed(html)
    return parser


def is_remote(url: str) -> bool:
    return "://" in url or url.startswith("//")


def test_no_page_loads_remote_scripts_or_styles(intro_book):
    assert intro_book.exit_code == 0
    pages = sorted(intro_book.html.rglob("*.html"))
    assert len(pages) >= 3
    remote = []
    for page in pages:
        res = resources(page.read_text())
        remote += [f"{page.name}: {u}" for u in res.scripts + res.styles if is_remote(u)]
    assert not remote, "pages load files from the network:\n" + "\n".join(remote)
    # the MathJax the pages point to is really there
    assert (intro_book.html / "_static" / "vendor" / "mathjax" / "tex-chtml.js").is_file()
    assert (intro_book.html / "_static" / "vendor" / "mathjax" / "output" / "chtml" / "fonts").is_dir()


def test_intro_page_figure_and_math_offline(intro_book, chromium, tmp_path):
    page = intro_book.html / "book" / "executed" / "01_introduction.html"
    shot = tmp_path / "intro.png"
    dom = browse(chromium, page, tmp_path, screenshot=shot)

    # MathJax ran and typeset the display equation and the inline symbols, without errors
    assert dom.count("<mjx-container") >= 5, "math was not typeset by MathJax"
    assert 'display="true"' in dom
    assert "<mjx-merror" not in dom and "math-error" not in dom
    # Fig. 1 is there: a captioned figure whose image file exists and is a real plot
    fig = re.search(r'<figure[^>]*id="fig-periodic-table".*?</figure>', dom, re.S)
    assert fig, "Fig. 1 (fig-periodic-table) is missing"
    assert "107" in fig.group(0) and "plot_periodic_table" in fig.group(0)
    images = resources(fig.group(0)).images
    assert len(images) == 1
    from PIL import Image

    with Image.open((page.parent / images[0]).resolve()) as im:
        assert im.format == "PNG" and im.width >= 600 and im.height >= 300
        colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 8  # not blank
    # the page as a browser draws it is not blank either
    with Image.open(shot) as im:
        assert im.size == (1200, 2000)
        assert len(im.convert("L").getcolors(maxcolors=1 << 16) or range(1000)) > 16


def test_saved_widget_state_renders_offline(make_book_root, chromium, tmp_path, monkeypatch):
    """A notebook that displays an ipywidgets slider: the page loads RequireJS and the embed
    manager from _static, and the browser draws the slider from the saved state."""
    from eels_helpers.book import chapters
    from eels_helpers.book.chapters import Chapter
    from eels_helpers.book.runner import run_book

    root = make_book_root("widgets")
    nb = new_notebook(cells=[
        new_markdown_cell("# Widgets\n\nA slider drawn from saved state."),
        new_code_cell('profile = "cpu"', metadata={"tags": ["parameters"]}),
        new_code_cell("import ipywidgets as w\nw.IntSlider(value=7, min=0, max=10, "
                      "description='channels')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, str(root / "notebooks" / "01_widgets.ipynb"))
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/executed/01_widgets\n")
    registry = {"01_widgets": Chapter(name="01_widgets", title="widgets")}
    monkeypatch.setattr(chapters, "REGISTRY", registry)
    result = run_book("smoke", root=root, output=root / "out", registry=registry, progress=False)

    executed = nbformat.read(str(root / "book" / "executed" / "01_widgets.ipynb"), as_version=4)
    assert "application/vnd.jupyter.widget-state+json" in executed.metadata.get("widgets", {})
    page = result.html_dir / "book" / "executed" / "01_widgets.html"
    scripts = resources(page.read_text()).scripts
    assert any(s.split("?")[0].endswith("_static/vendor/require.js") for s in scripts), scripts
    assert any(s.split("?")[0].endswith("_static/vendor/embed-amd.js") for s in scripts), scripts
    assert not [s for s in scripts if is_remote(s)]

    dom = browse(chromium, page, tmp_path, screenshot=tmp_path / "widgets.png")
    assert "widget-slider" in dom, "the slider was not rendered from the saved widget state"
    assert "channels" in dom
