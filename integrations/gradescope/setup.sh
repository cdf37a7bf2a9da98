#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
# Upload a zip of the whole project (this repository) as the autograder source.
set -euo pipefail
# The grader needs Python 3.11 or later (tomllib; the pinned numpy 2.4). Gradescope's Ubuntu 22.04
# image has 3.10 as python3, so Python 3.11 is installed beside it (Ubuntu's universe package).
apt-get update -qq && apt-get install -y -qq python3.11 python3.11-venv bubblewrap
cd /autograder/source
python3.11 -m venv /autograder/venv
/autograder/venv/bin/pip install -q -c constraints.txt --extra-index-url https://download.pytorch.org/whl/cpu .
