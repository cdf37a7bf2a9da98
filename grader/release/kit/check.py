"""Run the visible checks: ``python check.py [PATH]`` (default: the folder this file is in).

Needs no installation beyond NumPy, pytest and rich
(``pip install ./student`` installs them, and the ``nn-selfcheck`` command).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from nn_selfcheck.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default=HERE))
