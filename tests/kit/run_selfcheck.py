"""Run a released kit's self-check in this process; print one JSON line per result (for tests/test_release.py).

    python run_selfcheck.py KIT_FOLDER SUBMISSION...       # folders, .py or .ipynb files, one after the other
    python run_selfcheck.py KIT_FOLDER --kernel FILE...    # exec FILEs into __main__ (as notebook cells would
                                                           # define them), then check this "kernel" twice
"""

import json
import os
import sys

kit, rest = sys.argv[1], sys.argv[2:]
sys.path.insert(0, kit)
from nn_selfcheck import check  # noqa: E402


def show(result):
    print(json.dumps({"report": result.report.to_json(), "repr": repr(result), "html": result._repr_html_(),
                      "closing": result.closing_line()}), flush=True)


if rest[0] == "--kernel":
    for path in rest[1:]:
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
        with open(path, encoding="utf-8") as handle:
            exec(compile(handle.read(), path, "exec"), globals())  # the functions a notebook would define
    show(check(show=False, kernel=True))
    show(check(show=False, kernel=True))  # the "kernel" survived the first run, hangs and crashes included
else:
    for submission in rest:
        show(check(submission, show=False))
