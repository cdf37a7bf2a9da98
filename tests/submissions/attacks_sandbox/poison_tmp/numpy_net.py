"""At import: a 1,500-deep folder chain (some locked) in its folder and in /tmp, /tmp filled up; then behaves."""
import os

from _correct_numpy_net import *  # noqa: F403


def _chain(top, depth=1500):
    start = os.open(".", os.O_RDONLY)
    try:
        os.chdir(top)
        for level in range(depth):
            os.mkdir("nngrader-poison-chain")
            os.chdir("nngrader-poison-chain")
            if level % 100 == 99:
                os.chmod(".", 0o300)  # no listing: a cleanup that lists must open it up first
    except OSError:
        pass
    finally:
        os.fchdir(start)
        os.close(start)


def _fill(top, block=b"x" * (4 << 20)):
    for number in range(32):  # 128 MiB at most
        try:
            with open(os.path.join(top, f"nngrader-poison-fill-{number}"), "wb") as handle:
                handle.write(block)
        except OSError:
            return


for _top in (".", "/tmp", os.environ.get("TMPDIR", ".")):
    _chain(_top)
    _fill(_top)
