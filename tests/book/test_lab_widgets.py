"""Chapter 03's interactive simulator, live in JupyterLab, in a real browser.

`make lab` starts a JupyterLab server (a free loopback port, a random token, a temporary copy of
chapter 03 as its root); headless Chromium, driven over the DevTools protocol, opens the chapter,
runs its parameters, import and simulator cells from JupyterLab (the kernel is the venv's
`python3`), waits for the widgets rendered by JupyterLab's widget manager, then changes the
specimen formula and moves the collection-angle slider with keyboard input; after each change the
screenshot of the figure must differ from the one before. The server, its kernel and the browser
are stopped whatever happens. Skipped (with the reason) only when no Chromium is installed
(`.ci/run` installs the Debian package `chromium`).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from support import HEADLESS_FLAGS, find_chromium

FLAGS = [
    *HEADLESS_FLAGS, "--window-size=1400,1600",
    # every host name but the loopback fails to resolve: JupyterLab and the widgets work offline
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
]
CHAPTER = "03_simulated_dataset.ipynb"
#: JupyterLab user settings for the test server (not the user's own): every cell stays in the
#: DOM (no windowing), no autosave, no news or update toasts over the notebook
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}
START_TIMEOUT_S = 120   # server start, page load, kernel start
CELL_TIMEOUT_S = 240    # a cold cache builds the simulator's cross-section tables (~20 s alone)
REDRAW_TIMEOUT_S = 60


def stop(proc: subprocess.Popen, timeout_s: float = 15.0) -> None:
    """Terminate ``proc``, its process group and every descendant (kernels run in sessions of
    their own); kill what is still alive after ``timeout_s``."""
    import psutil  # a dependency of ipykernel

    try:
        procs = [psutil.Process(proc.pid)]
        procs += procs[0].children(recursive=True)
    except psutil.NoSuchProcess:
        procs = []
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    _, alive = psutil.wait_procs(procs, timeout=timeout_s)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=timeout_s)
    psutil.wait_procs(alive, timeout=timeout_s)

    def running(p) -> bool:
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    left = [f"{p.pid} {p.name()}" for p in procs if running(p)]
    assert not left, f"processes still running after stop: {left}"


def wait_until(what: str, timeout_s: float, check, interval_s: float = 0.25):
    """Poll ``check()`` until it returns something truthy; fail naming ``what`` after the timeout."""
    end = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


class DevTools:
    """A minimal Chrome DevTools protocol client on one page target (websocket-client)."""

    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.last_id = 0

    def call(self, method: str, **params):
        self.last_id += 1
        self.ws.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:  # events (none enabled) and late replies are skipped
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.last_id:
                if "error" in msg:
                    raise AssertionError(f"DevTools {method}: {msg['error']}")
                return msg["result"]

    def js(self, expression: str):
        """Evaluate ``expression`` in the page (promises awaited); return its JSON value."""
        r = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                      returnByValue=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise AssertionError(f"page script failed: {d.get('exception', {}).get('description', d)}")
        return r["result"].get("value")

    def key(self, key: str, code: str, key_code: int, modifiers: int = 0) -> None:
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=code, modifiers=modifiers,
                      windowsVirtualKeyCode=key_code, nativeVirtualKeyCode=key_code)

    def screenshot(self, clip: dict) -> np.ndarray:
        """The page inside ``clip`` (CSS px) as an RGB array (rows, cols, 3) of uint8."""
        from PIL import Image

        png = self.call("Page.captureScreenshot", format="png",
                        clip={**clip, "scale": 1}, captureBeyondViewport=True)["data"]
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("RGB"))

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def lab_server(repo_root, tmp_path_factory):
    """`make lab` on a temporary copy of chapter 03 (``.url``, ``.token``, ``.root``, ``.log``: the
    server's output); stopped, with its kernel, at teardown."""
    tmp_path = tmp_path_factory.mktemp("lab")
    if shutil.which("make") is None:
        pytest.fail("`make` is not installed: the test runs the README's `make lab`")
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(repo_root / "notebooks" / CHAPTER, root / CHAPTER)
    jupyter = {name: tmp_path / "jupyter" / name
               for name in ("config", "data", "runtime", "settings", "workspaces")}
    for d in jupyter.values():
        d.mkdir(parents=True)
    for name, settings in LAB_SETTINGS.items():
        f = jupyter["settings"] / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(settings))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(jupyter["config"]),
           "JUPYTER_DATA_DIR": str(jupyter["data"]),
           "JUPYTER_RUNTIME_DIR": str(jupyter["runtime"]),
           "JUPYTERLAB_SETTINGS_DIR": str(jupyter["settings"]),
           "JUPYTERLAB_WORKSPACES_DIR": str(jupyter["workspaces"]),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")]))}
    token = secrets.token_hex(24)
    flags = (f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=0 --ServerApp.port_retries=0 "
             f"--IdentityProvider.token={token} --LabApp.expose_app_in_browser=True")
    venv = Path(sys.prefix)
    log_path = tmp_path / "lab.log"
    log = log_path.open("wb")
    # -o: use this interpreter's environment as it is (never re-install it from the test)
    proc = subprocess.Popen(
        ["make", "-s", "-o", f"{venv}/.installed", "lab", f"VENV={venv}", f"LAB_ROOT={root}",
         f"LAB_FLAGS={flags}"],
        cwd=repo_root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def server_info():
            if proc.poll() is not None:
                raise AssertionError(f"`make lab` exited with {proc.returncode}:\n"
                                     + log_path.read_text(errors="replace")[-3000:])
            for f in jupyter["runtime"].glob("jpserver-*.json"):
                try:
                    return json.loads(f.read_text())
                except ValueError:  # being written
                    return None
            return None

        info = wait_until("the JupyterLab server to start", START_TIMEOUT_S, server_info)
        url = f"http://127.0.0.1:{info['port']}"

        def answers():
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_until("the JupyterLab server to answer", START_TIMEOUT_S, answers)
        # the token is required: without it the API refuses
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(f"{url}/api/sessions", timeout=5)
        yield SimpleNamespace(url=url, token=token, root=root, log=log_path)
    finally:
        stop(proc)
        log.close()


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium: a DevTools client on a blank page. Stopped at teardown."""
    exe = find_chromium("the JupyterLab widget test")
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    client = None
    try:
        active = profile / "DevToolsActivePort"
        port = wait_until("Chromium's DevTools port", START_TIMEOUT_S,
                          lambda: active.exists() and active.read_text().split("\n")[0].strip())

        def page_target():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                pages = [t for t in json.load(r) if t["type"] == "page"]
            return pages[0]["webSocketDebuggerUrl"] if pages else None

        client = DevTools(wait_until("a Chromium page", START_TIMEOUT_S, page_target))
        yield client
    finally:
        if client is not None:
            client.close()
        stop(proc)


# page scripts (JupyterLab exposes window.jupyterapp with --LabApp.expose_app_in_browser): the
# chapter's notebook panel, and the simulator's figure (the first image in a widget output)
NOTEBOOK = ("[...window.jupyterapp.shell.widgets('main')]"
            f".find(w => w.context && w.context.path === '{CHAPTER}')")
OUTPUT = ("[...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(c => c.querySelector("
          "'.widget-output img')).filter(Boolean)[0]")


def cell_index(nb_json: dict, needle: str) -> int:
    """The first code cell whose source contains ``needle`` (or, for ``"parameters"``, the cell
    tagged so)."""
    hits = [i for i, c in enumerate(nb_json["cells"]) if c["cell_type"] == "code"
            and (needle in "".join(c["source"]) or needle in c["metadata"].get("tags", ()))]
    assert hits, f"{CHAPTER} has no code cell containing {needle!r}"
    return hits[0]


def run_cell(dt: DevTools, index: int) -> None:
    """Select cell ``index`` and run it with JupyterLab's own command (as Shift+Enter does);
    fail with the cell's error output if it raises."""
    ok = dt.js(f"""(async () => {{
        const nb = {NOTEBOOK};
        window.jupyterapp.shell.activateById(nb.id);
        nb.content.activeCellIndex = {index};
        nb.content.deselectAll();
        await window.jupyterapp.commands.execute('notebook:run-cell');
        return nb.content.widgets[{index}].model.executionCount; }})()""")
    assert ok, f"cell {index} of {CHAPTER} was not executed"
    errors = dt.js(f"""{NOTEBOOK}.content.widgets[{index}].model.outputs.toJSON()
        .filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)""")
    assert not errors, f"cell {index} of {CHAPTER} failed in JupyterLab:\n" + "\n".join(errors)


def figure(dt: DevTools) -> tuple[str, np.ndarray]:
    """The simulator's current figure: its image source (changes on every redraw) and its pixels."""
    src, rect = dt.js(f"""(() => {{
        const img = {OUTPUT};
        img.scrollIntoView({{block: 'center'}});
        const r = img.getBoundingClientRect();
        return [img.src, {{x: r.x, y: r.y, width: r.width, height: r.height}}]; }})()""")
    assert rect["width"] > 200 and rect["height"] > 100, f"the figure is not displayed: {rect}"
    return src, dt.screenshot(rect)


def changed(before: np.ndarray, after: np.ndarray) -> float:
    """Fraction of the plot's pixels that changed (images of the same size)."""
    assert before.shape == after.shape, (before.shape, after.shape)
    return float(np.mean(np.any(np.abs(before.astype(int) - after.astype(int)) > 16, axis=-1)))


def wait_redraw(dt: DevTools, old_src: str, what: str) -> tuple[str, np.ndarray]:
    def new_figure():
        src = dt.js(f"(() => {{ const img = {OUTPUT}; return img ? img.src : null; }})()")
        return src if src and src != old_src else None

    wait_until(f"the figure to be redrawn after {what}", REDRAW_TIMEOUT_S, new_figure)
    time.sleep(0.5)  # let the new image decode and paint
    return figure(dt)


def get_json(server: SimpleNamespace, path: str):
    with urllib.request.urlopen(f"{server.url}{path}?token={server.token}", timeout=30) as r:
        return json.load(r)


def test_make_lab_is_documented(repo_root):
    readme = (repo_root / "README.md").read_text()
    assert "make lab" in readme and "tests/book/test_lab_widgets.py" in readme
    makefile = (repo_root / "Makefile").read_text()
    assert "\nlab: venv\n" in makefile and "ensure_kernel()" in makefile


def test_make_lab_serves_the_notebooks_with_this_environments_kernel(lab_server):
    """`make lab`: JupyterLab on the notebooks folder, the `python3` kernel runs this Python."""
    names = [f["name"] for f in get_json(lab_server, "/api/contents")["content"]]
    assert CHAPTER in names
    specs = get_json(lab_server, "/api/kernelspecs")
    assert specs["default"] == "python3"
    exe = specs["kernelspecs"]["python3"]["spec"]["argv"][0]
    # "python" is replaced by the server's own interpreter (jupyter_client), i.e. this one
    assert exe in ("python", "python3") or Path(exe).resolve() == Path(sys.executable).resolve(), exe
    with urllib.request.urlopen(f"{lab_server.url}/lab?token={lab_server.token}", timeout=30) as r:
        assert r.status == 200 and b"JupyterLab" in r.read()


@contextlib.contextmanager
def diagnostics(dt: DevTools, server: SimpleNamespace, tmp_path: Path):
    """On a failure, keep a screenshot of the whole page and quote the server's log."""
    try:
        yield
    except AssertionError as err:
        shot = tmp_path / "jupyterlab.png"
        with contextlib.suppress(Exception):
            shot.write_bytes(base64.b64decode(dt.call("Page.captureScreenshot", format="png")["data"]))
        log = server.log.read_text(errors="replace")[-2500:]
        raise AssertionError(f"{err}\n(screenshot of the page: {shot}; end of the JupyterLab log:\n"
                             f"{log})") from err


@pytest.mark.slow
def test_simulator_widgets_redraw_in_jupyterlab(browser, lab_server, tmp_path):
    with diagnostics(browser, lab_server, tmp_path):
        check_simulator_in_jupyterlab(browser, lab_server)


def check_simulator_in_jupyterlab(dt: DevTools, server: SimpleNamespace) -> None:
    url, token, root = server.url, server.token, server.root
    nb_json = json.loads((root / CHAPTER).read_text())
    cells = [cell_index(nb_json, "parameters"), cell_index(nb_json, "config = SimulationConfig("),
             cell_index(nb_json, "interactive_simulator(config")]

    dt.call("Emulation.setFocusEmulationEnabled", enabled=True)  # headless: the page has the focus
    dt.call("Page.navigate", url=f"{url}/lab/tree/{CHAPTER}?token={token}")
    wait_until("JupyterLab to open the chapter with an idle python3 kernel", START_TIMEOUT_S,
               lambda: dt.js(f"""(() => {{
                   if (location.href.startsWith('chrome-error:'))
                       throw new Error('Chromium could not load JupyterLab: ' + document.body.innerText);
                   const nb = window.jupyterapp && {NOTEBOOK};
                   const k = nb && nb.sessionContext && nb.sessionContext.session
                       && nb.sessionContext.session.kernel;
                   return Boolean(k && k.name === 'python3' && k.status === 'idle'
                       && nb.content.widgets.length === {len(nb_json['cells'])});
               }})()"""))
    for i in cells:
        run_cell(dt, i)

    # the widgets of the simulator, rendered by JupyterLab's widget manager from the live kernel
    wait_until("the simulator's widgets and figure", CELL_TIMEOUT_S, lambda: dt.js(f"Boolean({OUTPUT})"))
    labels = dt.js("[...document.querySelectorAll('.jp-Notebook .widget-label')].map(e => e.innerText)")
    assert "Specimen formula" in labels and any(t.startswith("Collection angle") for t in labels), labels
    src0, img0 = figure(dt)
    ink = np.mean(np.any(img0 < 200, axis=-1))
    assert ink > 0.01 and img0.std() > 10, f"the first figure is blank (ink {ink:.4f}, std {img0.std():.1f})"

    # 1. the specimen: type a new formula into the text box (CeO2 -> BN: other edges entirely)
    dt.js("""(() => {
        const box = [...document.querySelectorAll('.jp-Notebook .widget-text')]
            .find(w => w.querySelector('.widget-label').innerText === 'Specimen formula');
        const input = box.querySelector('input');
        input.scrollIntoView({block: 'center'}); input.focus(); input.select(); return true; })()""")
    dt.call("Input.insertText", text="BN")  # as typed: replaces the selected "CeO2"
    src1, img1 = wait_redraw(dt, src0, "the specimen formula changed to BN")
    status = dt.js("document.querySelector('.jp-Notebook .widget-vbox .widget-html-content').innerText")
    assert not status.strip(), f"the simulator reports an error: {status}"
    assert changed(img0, img1) > 0.01, "the figure did not change with the specimen"

    # 2. a slider: the collection angle's upper handle, moved with the keyboard to the lower one
    #    (Home: the range 1-100 mrad becomes 1-1 mrad, the collection angle is pinned to 1 mrad)
    start = dt.js("""(() => {
        const box = [...document.querySelectorAll('.jp-Notebook .widget-slider')]
            .find(w => w.querySelector('.widget-label').innerText.startsWith('Collection angle'));
        const handles = box.querySelectorAll('.noUi-handle');
        const h = handles[handles.length - 1];
        h.scrollIntoView({block: 'center'}); h.focus();
        return [document.activeElement === h, box.querySelector('.widget-readout').innerText]; })()""")
    assert start[0], "the slider handle cannot take the keyboard focus"
    dt.key("Home", "Home", 36)
    src2, img2 = wait_redraw(dt, src1, f"the collection-angle slider moved (readout {start[1]!r})")
    readout = dt.js("""[...document.querySelectorAll('.jp-Notebook .widget-slider')]
        .find(w => w.querySelector('.widget-label').innerText.startsWith('Collection angle'))
        .querySelector('.widget-readout').innerText""")
    assert readout != start[1], f"the slider did not move: {readout!r}"
    assert readout.startswith("1.00") and readout.endswith("1.00"), f"the slider did not move to 1 mrad: {readout!r}"
    # a same-seed redraw is identical pixel for pixel: any change comes from the new angle (about
    # 0.7 % of the pixels here: the spectrum's shape changes a little, its normalisation stays)
    assert changed(img1, img2) > 0.002, "the figure did not change with the collection angle"
