#!/usr/bin/env bash
# Release check: what users install must grade exactly like the checkout.
#
#  1. Build the sdist and the wheel with `python -m build` (the wheel is built from the sdist).
#  2. Install the wheel, NOT editable, into a fresh virtual environment (-c constraints.txt:
#     torch==2.13.0 then comes from the local CPU wheel).
#  3. From a folder outside the checkout, grade examples/sample_submission and the reference
#     (reference/numpy_net.py and torch_net.py copied as a submission) with the installed grader
#     and with the editable one (.venv); every check must have the same status, points, message
#     and hint.
#  4. `grader release` from the installed grader; install the student kit with
#     `pip install ./student` into another fresh environment and run `nn-selfcheck --json` on the
#     same submissions: its checks must equal the visible checks of the editable grader's reports.
#
# Pythons. The grader declares Python >= 3.11 (tomllib, numpy 2.4). pyenv here has 3.10 to 3.13,
# but the pinned torch 2.13.0 CPU wheel exists on this machine only for 3.11; any other version
# would make pip download a multi-GB CUDA build. So steps 1-4 run under 3.11 only, the declared
# lower bound. The student kit declares Python >= 3.10 and does not depend on torch: it is also
# installed under every other Python 3.10+ found here (no torch there; its NumPy checks must
# equal the grader's, and its torch checks must say that torch is missing).
#
# Usage: .ci/release_check.sh   (after .ci/run has set up .venv; needs PyPI for the build backend)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
editable="$root/.venv/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

find_python() {  # find_python 3.11 -> the path of that Python, or nothing
    local version=$1 candidate
    for candidate in "python$version" "$HOME/.pyenv/versions/$version"*/bin/python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" \
                2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

python311=$(find_python 3.11) || { echo "release check: Python 3.11 not found" >&2; exit 1; }
echo "release check: grader under $("$python311" --version) ($python311)"

# 1. Build (isolated: a fresh setuptools from the index, as any user's build gets).
"$editable/python" -m build --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log" >&2; exit 1; }
if grep -qi "deprecat" "$work/build.log"; then
    grep -i "deprecat" "$work/build.log" >&2
    echo "release check: the build warns about deprecated metadata" >&2
    exit 1
fi
wheels=("$work"/dist/*.whl)
sdists=("$work"/dist/*.tar.gz)
echo "release check: built ${sdists[0]##*/} and ${wheels[0]##*/}"

# 2. A fresh environment with the wheel (not editable).
"$python311" -m venv "$work/installed"
pip_install() {  # pip_install PIP ARGS...: quiet, the log shown only when it fails
    local pip=$1
    shift
    "$pip" install -q "$@" >"$work/pip.log" 2>&1 || { tail -30 "$work/pip.log" >&2; return 1; }
}
pip_install "$work/installed/bin/pip" -c "$root/constraints.txt" "${wheels[0]}"

# 3. Grade from outside the checkout, with both installs.
mkdir -p "$work/run" "$work/submissions/reference" "$work/reports"
cp "$root/reference/numpy_net.py" "$root/reference/torch_net.py" "$work/submissions/reference/"
cp -r "$root/examples/sample_submission" "$work/submissions/sample_submission"
cd "$work/run"
location=$("$work/installed/bin/python" -c "import grader; print(grader.__file__)")
case "$location" in
    "$work/installed/"*) ;;
    *) echo "release check: the installed grader was imported from $location" >&2; exit 1 ;;
esac
for name in sample_submission reference; do
    "$work/installed/bin/grader" grade "$work/submissions/$name" -o "$work/reports/installed-$name.json" >/dev/null
    "$editable/grader" grade "$work/submissions/$name" -o "$work/reports/editable-$name.json" >/dev/null
    "$editable/python" "$root/.ci/compare_reports.py" same \
        "$work/reports/installed-$name.json" "$work/reports/editable-$name.json"
    echo "release check: $name graded the same by the wheel and the checkout"
done

# 4. The student kit, released by the installed grader (with the built wheel, so that the
#    Gradescope bundle is written too: an installed grader cannot build its own wheel).
"$work/installed/bin/grader" release "$work/course" --wheel "${wheels[0]}" >/dev/null
for artefact in student.zip gradescope/autograder.zip classroom/student/.github/workflows/classroom.yml; do
    [ -f "$work/course/$artefact" ] || { echo "release check: grader release did not write $artefact" >&2; exit 1; }
done
"$python311" -c 'import sys, zipfile; sys.exit(sys.argv[2] not in zipfile.ZipFile(sys.argv[1]).namelist())' \
    "$work/course/gradescope/autograder.zip" "${wheels[0]##*/}" \
    || { echo "release check: autograder.zip does not hold the wheel" >&2; exit 1; }
echo "release check: grader release wrote the kit, autograder.zip (with the wheel) and the Classroom workflows"
kit_check() {  # kit_check PYTHON FLAGS...: install ./student with PYTHON, compare its self-check
    local python=$1 env
    shift
    env="$work/kit-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    "$python" -m venv "$env"
    pip_install "$env/bin/pip" "$@" "$work/course/student"
    for name in sample_submission reference; do
        "$env/bin/nn-selfcheck" "$work/submissions/$name" --json >"$work/reports/kit-$name.json"
        "$editable/python" "$root/.ci/compare_reports.py" kit \
            "$work/reports/kit-$name.json" "$work/reports/editable-$name.json" ${flags[@]+"${flags[@]}"}
    done
    echo "release check: student kit under $("$python" --version): same visible checks as the grader"
}
flags=()
kit_check "$python311" -c "$root/constraints.txt" torch==2.13.0
flags=(--without-torch)
for version in 3.10 3.12 3.13; do
    if python=$(find_python "$version"); then
        kit_check "$python"
    else
        echo "release check: Python $version not found, student kit not checked there"
    fi
done
echo "release check: passed"
