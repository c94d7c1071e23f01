"""Execute one notebook with nbconvert's ExecutePreprocessor and write the executed .ipynb (and its HTML).

Called by src/notebooks/run.ts, one process per notebook. Why a driver instead of `jupyter nbconvert
--execute`: on a failing cell the CLI writes nothing, and tslab's error reply carries no ename/evalue
(it prints the error to the cell's stderr). Here the partly executed notebook is always written, and the
failing cell gets a standard `error` output (ename, evalue, traceback) that the runner and the HTML show.

Usage: execute-notebook.py IN.ipynb OUT.ipynb [--html OUT.html] [--timeout S] [--kernel NAME] [--cwd DIR]
Exit: 0 all cells ran; 1 a cell failed (OUT.ipynb written, failing cell has an error output); 2 other error.
"""
import argparse
import os
import re
import sys
import time

import nbformat
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from jinja2 import DictLoader
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import ExecutePreprocessor

# Node prints an uncaught error as "RangeError: boom" followed by "    at ..." lines.
ERROR_LINE = re.compile(r"^((?:[A-Za-z_$][\w$.]*)?(?:Error|Exception)): ?(.*)$")
# tslab prints TypeScript diagnostics as "line:col - message".
TS_DIAGNOSTIC = re.compile(r"^\d+:\d+ - ")


def log(msg):
    print(f"[execute] {msg}", file=sys.stderr, flush=True)


def cell_stderr(cell):
    texts = [o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    return "".join("".join(t) if isinstance(t, list) else t for t in texts)


def describe_failure(stderr):
    """(ename, evalue) from what tslab printed for the failing cell."""
    lines = [l.rstrip() for l in stderr.splitlines() if l.strip()]
    # tslab's own failures (not the cell's), e.g. "unexpected error: Error: Unexpected pending rebuildTimer".
    internal = [l for l in lines if l.startswith("unexpected error: ")]
    if internal:
        return "TslabInternalError", internal[-1][len("unexpected error: "):]
    errors = [m for m in (ERROR_LINE.match(l) for l in lines) if m]
    if errors:
        return errors[-1].group(1), errors[-1].group(2)
    diagnostics = [l for l in lines if TS_DIAGNOSTIC.match(l)]
    if diagnostics:
        return "TypeScriptError", "; ".join(diagnostics)
    return "Error", lines[-1] if lines else "the cell failed without printing an error"


# nbconvert's lab page loads require.js and MathJax by URL; Debian points those at file:///usr/share/javascript,
# which exists only on the machine that rendered the page. The notebooks use neither (plotly is loaded beside
# the report, prose has no TeX), so the page is rendered without them: it carries no machine's paths.
PORTABLE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock %}
{% block html_head_js_mathjax %}{% endblock %}
"""


def portable_html(nb):
    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"portable.html.j2": PORTABLE_TEMPLATE})], template_file="portable.html.j2")
    body, _ = exporter.from_notebook_node(nb)
    return body


def write_atomic(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--html")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--kernel", default="tslab")
    ap.add_argument("--cwd", default=os.getcwd())
    args = ap.parse_args()

    try:
        nb = nbformat.read(args.input, as_version=4)
    except Exception as e:  # a clear one-line error naming the file
        log(f"cannot read {args.input}: {e}")
        return 2

    # startup_timeout: tslab loads a TypeScript compiler before it answers; on a busy 2-core CI box that
    # can approach nbclient's default of 60 s.
    ep = ExecutePreprocessor(timeout=args.timeout, kernel_name=args.kernel, startup_timeout=180)
    state = {"index": None, "started": 0.0}
    n_code = sum(1 for c in nb.cells if c.cell_type == "code")

    def on_cell_start(cell, cell_index):
        state["index"], state["started"] = cell_index, time.time()

    def on_cell_executed(cell, cell_index, execute_reply):
        if execute_reply.get("content", {}).get("status") != "ok":
            return
        number = sum(1 for c in nb.cells[: cell_index + 1] if c.cell_type == "code")
        log(f"cell {cell_index + 1} (code {number}/{n_code}) done in {time.time() - state['started']:.1f} s")

    ep.on_cell_start = on_cell_start
    ep.on_cell_executed = on_cell_executed

    failure = None  # (ename, evalue) or "from-stderr" when tslab printed the error into the cell
    try:
        ep.preprocess(nb, {"metadata": {"path": args.cwd}})
    except CellTimeoutError:
        failure = ("CellTimeoutError", f"the cell did not finish within {args.timeout} s")
    except DeadKernelError as e:
        failure = ("DeadKernelError", f"the kernel died while running the cell (out of memory?): {e}")
    except CellExecutionError:
        failure = "from-stderr"  # tslab's error reply has no ename/evalue; it printed the error to stderr
    except Exception as e:
        failure = (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
    if failure is not None and state["index"] is None:
        log(f"could not start the '{args.kernel}' kernel: {failure[0]}: {failure[1]}")
        return 2

    if failure is not None:
        cell = nb.cells[state["index"]]
        stderr = cell_stderr(cell)
        ename, evalue = describe_failure(stderr) if failure == "from-stderr" else failure
        cell.setdefault("outputs", []).append(
            nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=(stderr or f"{ename}: {evalue}").splitlines())
        )
        log(f"cell {state['index'] + 1} failed: {ename}: {evalue}")

    write_atomic(args.output, nbformat.writes(nb))
    if args.html:
        write_atomic(args.html, portable_html(nb))
    return 0 if failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
