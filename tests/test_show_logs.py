"""eels_helpers.show_logs: the library's log messages on the current stderr, once."""

import logging

from eels_helpers import show_logs


def test_show_logs_prints_library_messages_once_on_the_current_stderr(capsys):
    logger = logging.getLogger("eels_helpers.training.loop")
    show_logs()
    show_logs()                       # a second call adds no second handler
    logger.info("[vit] epoch 1: loss 0.5")
    err = capsys.readouterr().err
    assert err.count("[vit] epoch 1: loss 0.5") == 1
    show_logs(logging.WARNING)        # only the level changes
    logger.info("hidden")
    logger.warning("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err and "shown" in err
    show_logs()


def test_warnings_start_as_the_command_lines_own_do(capsys):
    """A logged warning reads ``PREFIX: warning: ...`` (eels-id passes ``eels-id COMMAND``), an
    error ``PREFIX: error: ...``, information the message alone."""
    logger = logging.getLogger("eels_helpers.inference.predict")
    show_logs(prefix="eels-id predict")
    logger.info("progress")
    logger.warning("int8: nothing to quantise")
    logger.error("broken")
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["progress", "eels-id predict: warning: int8: nothing to quantise", "eels-id predict: error: broken"]
    show_logs()                       # no prefix: the kind alone
    logger.warning("shown")
    assert capsys.readouterr().err.splitlines() == ["warning: shown"]


def test_a_message_during_a_progress_bar_gets_its_own_line(capsys):
    """A log line written while a tqdm bar runs (predict's, map's) is not glued to the bar's line."""
    import re
    import sys

    from tqdm.auto import tqdm

    show_logs()
    logger = logging.getLogger("eels_helpers.inference.predict")
    with tqdm(total=3, desc="predict", file=sys.stderr) as bar:
        bar.update(1)
        logger.info("a notice")
        bar.update(2)
    segments = re.split(r"[\r\n]", capsys.readouterr().err)
    assert "a notice" in segments, segments


def test_progress_bars_are_drawn_on_a_terminal_only(capsys, monkeypatch):
    """One rule for every bar (training, simulation, predict, map, book): on a terminal it is drawn;
    where stderr is a log file (``eels-id train ... > run.log 2>&1``) no redraw lands in it; with
    ``enabled=False`` (``--quiet``) nowhere."""
    import sys

    from eels_helpers import progress_bar

    def draw(**kwargs):
        for _ in progress_bar(range(3), desc="steps", **kwargs):
            pass
        return capsys.readouterr().err

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert draw() == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert "steps" in draw() and "3/3" in draw()
    assert draw(enabled=False) == ""
