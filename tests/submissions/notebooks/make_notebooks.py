"""Write the test notebooks of this folder (run it again after changing the reference or a sample).

    python tests/submissions/notebooks/make_notebooks.py

Each notebook is a real ``.ipynb`` file written with nbformat, as Colab saves
one: Colab metadata, Korean markdown, cell ids and stored outputs (streams,
a PNG plot, an HTML display, an execute result). The solutions come from
``reference/`` and the bugs from ``tests/submissions/one_bug/``:

- ``colab_habits.ipynb``: correct; a Drive mount, shell lines and their
  assignment form, ``%pip``, ``np.dot?``, ``%%time`` over an indented loop,
  ``%%capture``, ``%%bash``, ``%%writefile``, ``%time``, ``display``, a plot,
  top-level training that prints under ``if __name__ == "__main__":``, and
  the handout's self-check cell.
- ``errors_first.ipynb``: correct in the end; a cell that errors before the
  definitions, an import of a package that is not installed, a function
  defined wrong and redefined later, a failing cell in the middle,
  ``input()`` and ``sys.exit()``.
- ``slow_top_level.ipynb`` and ``hang_ignoring_alarm.ipynb``: correct, with a
  cell that runs forever (the second one ignores the alarm, so the grader
  has to kill the process); graded with a short notebook time budget.
- ``buggy_<function>.ipynb`` and its twin ``buggy_<function>.py``: the same
  code with one bug, as a notebook and as a plain file.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
BUGS = ("softmax", "grad_w2_np", "Net")
# A 1x1 PNG: what a stored plot looks like in the file (its size does not matter here).
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()


def reference(module: str) -> str:
    return (ROOT / "reference" / f"{module}.py").read_text(encoding="utf-8")


def code(source: str, *outputs: dict) -> nbformat.NotebookNode:
    cell = new_code_cell(source.strip("\n"), outputs=list(outputs), execution_count=None)
    cell.metadata = {"colab": {"base_uri": "https://localhost:8080/"}, "outputId": "0f3c9a1e-5d2b-4c1e-9b7a-1f2e3d4c5b6a"}
    return cell


def stdout(text: str) -> dict:
    return new_output("stream", name="stdout", text=text)


def notebook(name: str, cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    book = new_notebook(cells=copy.deepcopy(cells))  # shared markdown cells get their own ids
    book.metadata = {
        "colab": {"provenance": [], "name": name, "gpuType": "T4", "toc_visible": True},
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "language_info": {"name": "python"},
        "accelerator": "GPU",
    }
    for number, cell in enumerate(book.cells):
        cell.id = f"cell{number:03d}"  # Colab's ids are random; fixed ones keep the files stable
    return book


HEADER = new_markdown_cell("# 과제 2: 2층 신경망 (NumPy와 PyTorch)\n\n모든 셀을 순서대로 실행한 뒤 **저장**하고 제출하세요.")
TASK1 = new_markdown_cell("## 과제 1: 순전파\n\nReLU와 Softmax를 NumPy로 직접 구현합니다.")
TASK3 = new_markdown_cell("## 과제 3: 드롭아웃을 사용한 학습\n\n학습 과정에서 손실을 출력합니다.")
SELF_CHECK = new_markdown_cell("## 자가 점검\n\n아래 셀은 공개된 검사만 실행합니다.")

TRAINING = '''
if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x, target = rng.standard_normal(3), np.array([1.0, 0.0])
    w1, w2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    masks = dropout_masks(200, 4, 0.4, seed=0)
    for epoch in range(0, 200, 50):
        trained1, trained2 = train_np(x, target, w1, w2, masks[: epoch + 1])
        y = forward_np(x, trained1, trained2)
        print(f"epoch {epoch:3d}  손실 {loss_np(y, target):.4f}")
'''


def colab_habits() -> nbformat.NotebookNode:
    return notebook("colab_habits.ipynb", [
        HEADER,
        code("from google.colab import drive\ndrive.mount('/content/drive')", stdout("Mounted at /content/drive\n")),
        code("!pip install -q torch numpy\n%pip install -q matplotlib\nfiles = !ls /content\nprint(files)\n"
             "%cd /content/drive/MyDrive\n%load_ext autoreload\n%autoreload 2",
             stdout("['drive', 'sample_data']\n/content/drive/MyDrive\n")),
        code("import numpy as np\nimport torch\nfrom torch import nn\n%matplotlib inline\nnp.dot?"),
        TASK1,
        code(reference("numpy_net")),
        code("%%time\nfor seed in range(3):\n    rng = np.random.default_rng(seed)\n    h = rng.standard_normal(4)\n"
             "    print(seed, relu(h))",
             stdout("0 [0.1257302  0.         0.64042265 0.10490012]\nCPU times: user 1 ms\nWall time: 1 ms\n")),
        code("%%capture captured\nprint('출력을 숨깁니다')"),
        code("%%bash\necho hello\nls -la"),
        code("%%writefile helper.py\ndef helper():\n    return 1", stdout("Writing helper.py\n")),
        code(reference("torch_net")),
        code("%time w1_t, w2_t = train_np(np.ones(3), np.array([1.0, 0.0]), np.full((3, 4), 0.1), "
             "np.full((4, 2), 0.1), dropout_masks(5, 4, 0.4, seed=0))\ndisplay(w1_t)\n"
             "from IPython.display import display, HTML\ndisplay(HTML('<b>완료</b>'))\nw2_t",
             new_output("display_data", data={"text/html": "<b>완료</b>", "text/plain": "<IPython.core.display.HTML object>"}),
             new_output("execute_result", data={"text/plain": "array([[0.1, 0.1],\n       [0.1, 0.1]])"},
                        execution_count=12)),
        code("import matplotlib.pyplot as plt\nplt.plot([3.0, 2.0, 1.5, 1.2])\nplt.title('손실')\nplt.show()",
             new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure size 640x480 with 1 Axes>"})),
        TASK3,
        code(TRAINING, stdout("epoch   0  손실 0.8133\nepoch  50  손실 0.5012\n")),
        SELF_CHECK,
        code("from grader.selfcheck import check\ncheck('colab_habits.ipynb')",
             stdout("colab_habits: 37.5 / 37.5\n")),
    ])


def errors_first() -> nbformat.NotebookNode:
    return notebook("errors_first.ipynb", [
        HEADER,
        code("print(w1.shape)  # 아직 정의되지 않은 변수",
             new_output("error", ename="NameError", evalue="name 'w1' is not defined", traceback=[])),
        code("import wandb\nwandb.init(project='hw2')"),
        TASK1,
        code("import numpy as np\n\ndef relu(h):\n    return h  # 나중에 고침\n\ndef softmax(z):\n    return z"),
        code("raise ValueError('중간에 실패하는 셀')"),
        code(reference("numpy_net")),  # redefines relu and softmax correctly: the last definition wins
        code(reference("torch_net")),
        code("name = input('이름: ')\nprint(name)"),
        code("import sys\nsys.exit(0)"),
        code("print('끝')", stdout("끝\n")),
    ])


def slow_top_level() -> nbformat.NotebookNode:
    return notebook("slow_top_level.ipynb", [
        HEADER,
        code(reference("numpy_net")),
        code("import time\nepoch = 0\nwhile True:  # 끝나지 않는 학습\n    epoch += 1\n    time.sleep(0.01)",
             new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[])),
        code(reference("torch_net")),
    ])


def hang_ignoring_alarm() -> nbformat.NotebookNode:
    return notebook("hang_ignoring_alarm.ipynb", [
        HEADER,
        code(reference("numpy_net")),
        code("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass",
             new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[])),
        code(reference("torch_net")),
    ])


def bug_cell(function: str) -> str:
    """The one-bug sample's redefinition, as a notebook cell after the reference cells."""
    folder = ROOT / "tests" / "submissions" / "one_bug" / function
    text = next(folder.glob("*.py")).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith(("from _correct_", "import _correct_"))]
    return "\n".join(lines).replace("_correct_numpy_net.", "").replace("_correct_torch_net.", "") + "\n"


def buggy(function: str) -> tuple[nbformat.NotebookNode, str]:
    """A notebook whose last cell redefines ``function`` wrongly, and the same code as one file."""
    bug = bug_cell(function)
    if function == "grad_w2_np":  # the sample calls the correct one it replaces: keep it under another name
        bug = bug.replace("return np.round(grad_w2_np(", "return np.round(_exact_grad_w2_np(")
        bug = "_exact_grad_w2_np = grad_w2_np\n" + bug
    sources = [reference("numpy_net"), reference("torch_net"), bug]
    book = notebook(f"buggy_{function}.ipynb", [
        HEADER, code(sources[0]), TASK1, code("%matplotlib inline\ndisplay(relu(np.array([-1.0, 2.0])))",
             new_output("display_data", data={"text/plain": "array([0., 2.])"})),
        code(sources[1]), TASK3, code(sources[2]),
    ])
    twin = "\n\n".join(source.replace("from __future__ import annotations\n", "") for source in sources)
    return book, twin


def main() -> None:
    for name, book in [("colab_habits", colab_habits()), ("errors_first", errors_first()),
                       ("slow_top_level", slow_top_level()), ("hang_ignoring_alarm", hang_ignoring_alarm())]:
        nbformat.write(book, str(HERE / f"{name}.ipynb"))
    for function in BUGS:
        book, twin = buggy(function)
        nbformat.write(book, str(HERE / f"buggy_{function}.ipynb"))
        (HERE / f"buggy_{function}.py").write_text(twin, encoding="utf-8")


if __name__ == "__main__":
    main()
