"""The API reference page (book/api.md): built alone with warnings as errors, it shows every
user-facing function's signature and a Parameters section that documents each parameter, and
every configuration class with its fields."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from eels_helpers.book.build import build_book

#: The user-facing API that issue 14 asks the page to document (final module names).
FUNCTIONS = (
    "eels_helpers.inference.predict.predict",
    "eels_helpers.inference.mapping.map_elements",
    "eels_helpers.simulation.pipeline.simulate_batch",
    "eels_helpers.physics.cross_section.dsigma_dE",
    "eels_helpers.models.create_model",
    "eels_helpers.training.loop.train",
)
CONFIGURATIONS = (
    "eels_helpers.profiles.Profile",
    "eels_helpers.simulation.config.SimulationConfig",
    "eels_helpers.datasets.config.DatasetConfig",
    "eels_helpers.training.config.TrainConfig",
)

DIRECTIVE = re.compile(r"^\.\. auto(function|class):: (\S+)\s*$", re.MULTILINE)


def resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


# ----------------------------------------------------------------------------- HTML
class _Node:
    def __init__(self, tag: str, attrs: dict, parent: _Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[_Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def elements(self):
        for c in self.children:
            if isinstance(c, _Node):
                yield c
                yield from c.elements()


class _Tree(HTMLParser):
    VOID = {"meta", "link", "img", "br", "hr", "input", "source", "wbr", "area", "base", "col"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.node = _Node("root", {}, None)

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, dict(attrs), self.node)
        self.node.children.append(node)
        if tag not in self.VOID:
            self.node = node

    def handle_endtag(self, tag):
        node = self.node
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.node = node.parent

    def handle_data(self, data):
        self.node.children.append(data)


def documented_objects(html: str) -> dict[str, tuple[str, _Node]]:
    """{dotted name: (signature text, the description <dd>)} of every autodoc entry."""
    tree = _Tree()
    tree.feed(html)
    out = {}
    for dl in tree.root.elements():
        if dl.tag != "dl" or not {"py", "function", "class"} & set(dl.attrs.get("class", "").split()):
            continue
        kids = [c for c in dl.children if isinstance(c, _Node)]
        dt = next((c for c in kids if c.tag == "dt" and c.attrs.get("id")), None)
        dd = next((c for c in kids if c.tag == "dd"), None)
        if dt is not None and dd is not None:
            out[dt.attrs["id"]] = (dt.text(), dd)
    return out


def field(dd: _Node, name: str) -> _Node | None:
    """The body (<dd>) of the field ``name`` (Parameters, Returns, ...) of a description."""
    for dl in dd.elements():
        if dl.tag != "dl" or "field-list" not in dl.attrs.get("class", ""):
            continue
        kids = [c for c in dl.children if isinstance(c, _Node)]
        for head, body in zip(kids, kids[1:]):
            if head.tag == "dt" and head.text().strip().rstrip(":").strip() == name and body.tag == "dd":
                return body
    return None


def parameter_names(signature: inspect.Signature) -> list[str]:
    return [p.name for p in signature.parameters.values() if p.name not in ("self", "cls")]


# ----------------------------------------------------------------------------- tests
def test_page_lists_the_user_facing_api(repo_root: Path):
    text = (repo_root / "book" / "api.md").read_text()
    documented = {name for _, name in DIRECTIVE.findall(text)}
    missing = [n for n in FUNCTIONS + CONFIGURATIONS if n not in documented]
    assert not missing, f"book/api.md does not document {missing}"
    assert "- file: book/api" in (repo_root / "_toc.yml").read_text(), "book/api is not in _toc.yml"
    for name in documented:  # every entry names an object that exists (before any build)
        assert resolve(name) is not None


@pytest.fixture(scope="module")
def api_html(make_book_root, repo_root: Path) -> str:
    """book/intro + book/api built alone (jupyter-book -W --keep-going) into a temporary folder;
    the documented code is this checkout's (PYTHONPATH)."""
    root = make_book_root("api_book")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/api\n")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(repo_root)] + ([old] if old else []))
    try:
        html = build_book(root, root / "out")  # raises BookError on any warning
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    return (html / "book" / "api.html").read_text()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_has_signature_and_every_parameter_documented(api_html: str, name: str):
    entries = documented_objects(api_html)
    assert name in entries, f"{name} is not rendered on the API page"
    signature_text, dd = entries[name]
    params = parameter_names(inspect.signature(resolve(name)))
    shown = [p for p in params if re.search(rf"\b{re.escape(p)}\b", signature_text)]
    assert shown == params, f"{name}: signature shows {shown}, the function takes {params}"

    body = field(dd, "Parameters")
    assert body is not None, f"{name}: no Parameters section (numpydoc 'Parameters' + dashes)"
    described = {s.text().strip().lstrip("*") for s in body.elements() if s.tag == "strong"}
    undocumented = [p for p in params if p not in described]
    assert not undocumented, f"{name}: parameters missing from its Parameters section: {undocumented}"
    assert field(dd, "Returns") is not None or field(dd, "Return type") is not None, \
        f"{name}: no Returns section"


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_configuration_class_shows_its_fields(api_html: str, name: str):
    entries = documented_objects(api_html)
    assert name in entries, f"{name} is not rendered on the API page"
    signature_text, dd = entries[name]
    cls = resolve(name)
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, f"{name}: not a frozen dataclass"
    fields = [f.name for f in dataclasses.fields(cls) if f.init]
    missing = [f for f in fields if not re.search(rf"\b{re.escape(f)}\b", signature_text)]
    assert not missing, f"{name}: fields {missing} are not in the rendered signature"
    assert dd.text().strip(), f"{name}: the class has no docstring on the page"
