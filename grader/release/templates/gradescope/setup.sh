#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# (default image: Ubuntu 22.04, whose python3 is 3.10; the grader needs 3.11+).
# It installs the grader wheel that sits beside it (with the pinned versions
# in constraints.txt and torch's CPU build), then makes the grader's answers
# readable by root only: where bubblewrap cannot run, the student's code (run
# under a user id of its own) still cannot read them.
#
# Knobs, for testing this script outside Gradescope (defaults are Gradescope's):
#   AUTOGRADER_ROOT        the autograder folder (default /autograder)
#   AUTOGRADER_PYTHON      a Python 3.11+ to build the venv with (default: found, or installed from deadsnakes)
#   AUTOGRADER_TORCH_INDEX where torch comes from (default the CPU index; empty: from pip's own configuration)
#   AUTOGRADER_SKIP_APT=1  install no Debian package
set -euo pipefail

root="${AUTOGRADER_ROOT:-/autograder}"
# The unpacked zip: /autograder/source, wherever Gradescope runs this script from.
source_dir="$root/source"
if ! compgen -G "$source_dir/nn_autograder-*.whl" >/dev/null; then
    source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fi
venv="$root/venv"
torch_index="${AUTOGRADER_TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
skip_apt="${AUTOGRADER_SKIP_APT:-0}"

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

python="${AUTOGRADER_PYTHON:-}"
if [ -z "$python" ] && ! python="$(find_python)"; then
    if [ "$skip_apt" = 1 ]; then
        echo "setup.sh: no Python 3.11+ found and AUTOGRADER_SKIP_APT=1" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update -qq
    apt-get install -y -qq python3.11 python3.11-venv
    python="$(command -v python3.11)"
fi

if [ "$skip_apt" != 1 ]; then
    # The strong sandbox layer where the container allows namespaces; optional.
    apt-get install -y -qq bubblewrap || echo "setup.sh: bubblewrap not installed; file permissions guard the answers"
fi

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
if [ -n "$torch_index" ]; then
    # torch alone from the CPU index first: PyPI's default build is CUDA's (gigabytes).
    "$venv/bin/pip" install -q --index-url "$torch_index" -c "$source_dir/constraints.txt" torch
fi
wheels=("$source_dir"/nn_autograder-*.whl)
"$venv/bin/pip" install -q -c "$source_dir/constraints.txt" "${wheels[0]}"

# The answers (reference/, the grader's checks and cases) readable by root only;
# grader/inside, the code the sandboxed child runs, stays readable.
"$venv/bin/python" -I -m grader.gradescope lock
# The wheel and the course secret are root's only, too.
chmod -R go-rwx "$source_dir"
echo "setup.sh: grader installed in $venv"
