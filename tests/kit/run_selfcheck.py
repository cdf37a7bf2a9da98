"""Run a released kit's self-check in this process and print its report as JSON (for tests/test_release.py).

    python run_selfcheck.py KIT_FOLDER SUBMISSION          # a folder, .py or .ipynb
    python run_selfcheck.py KIT_FOLDER --kernel FILE...    # exec FILEs into __main__, then check the "kernel"
"""

import json
import sys

kit, rest = sys.argv[1], sys.argv[2:]
sys.path.insert(0, kit)
from nn_selfcheck import check  # noqa: E402

if rest[0] == "--kernel":
    for path in rest[1:]:
        with open(path, encoding="utf-8") as handle:
            exec(compile(handle.read(), path, "exec"), globals())  # the functions a notebook would define
    result = check(show=False, kernel=True)
else:
    result = check(rest[0], show=False)
print(json.dumps({"report": result.report.to_json(), "repr": repr(result), "html": result._repr_html_(),
                  "closing": result.closing_line()}))
