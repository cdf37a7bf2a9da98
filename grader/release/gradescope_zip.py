"""``OUT_DIR/gradescope/autograder.zip``: a Gradescope autograder that uploads as it is.

Gradescope wants ``setup.sh`` and ``run_autograder`` at the root of the zip
(``templates/gradescope/`` beside this module). Beside them: the grader wheel
and the constraints it is installed with, so nothing but the package
registries is needed while the image is built, and nothing at grading time;
and the course secret, when one is set, as ``secret`` (root-only once
installed; ``run_autograder`` hands it to the grader as ``GRADER_SECRET``).
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates" / "gradescope"
SCRIPTS = ("setup.sh", "run_autograder")
EXECUTABLE = 0o755
PRIVATE = 0o600
READABLE = 0o644
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # the same inputs give the same zip, byte for byte


def write_gradescope(out_dir: Path, *, wheel: Path, constraints: Path, secret: str | None) -> Path:
    """Write ``out_dir/gradescope/autograder.zip`` and return its path.

    ``wheel``: the grader's wheel (``nn_autograder-*.whl``); ``constraints``:
    the pinned versions to install it with; ``secret``: the course secret
    hidden cases are drawn from, or None.
    """
    wheel, constraints = Path(wheel), Path(constraints)
    if not wheel.name.startswith("nn_autograder-") or wheel.suffix != ".whl":
        raise ValueError(f"{wheel}: not a grader wheel (expected nn_autograder-*.whl)")
    target = Path(out_dir) / "gradescope" / "autograder.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    members: list[tuple[str, bytes, int]] = [
        *((name, (TEMPLATES / name).read_bytes(), EXECUTABLE) for name in SCRIPTS),
        (wheel.name, wheel.read_bytes(), READABLE),
        ("constraints.txt", constraints.read_bytes(), READABLE),
    ]
    if secret is not None:
        members.append(("secret", secret.encode("utf-8"), PRIVATE))
    temporary = target.with_name(f".{target.name}.tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    temporary.replace(target)
    target.chmod(PRIVATE if secret is not None else READABLE)
    return target
