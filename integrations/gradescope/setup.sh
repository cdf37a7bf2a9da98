#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
# Upload a zip of the whole project (this repository) as the autograder source.
set -euo pipefail
apt-get update -qq && apt-get install -y -qq python3-venv bubblewrap
cd /autograder/source
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q -c constraints.txt --extra-index-url https://download.pytorch.org/whl/cpu .
