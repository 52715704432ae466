"""The book: the chapter registry, executing the chapter notebooks, building the HTML.

- ``chapters``: the registry of chapters (name, title, parameters per profile, time budgets);
- ``runner``: :func:`~eels_helpers.book.runner.run_book`, which executes the notebooks with
  papermill at a profile (``eels-id book``);
- ``build``: ``_toc.yml``, the offline browser assets and the jupyter-book build.

Stage rule: the book sits above every other stage and may import all of them (physics,
simulation, datasets, models, inference, evaluation, training) and the foundation modules; only
cli imports the book. These modules import only the profiles and each other: the chapters'
notebooks do the work.
"""
