"""Every step runs as ``python -m sagemaker_code.steps.<step>`` and as a file, also from a folder of another name.

The SageMaker toolkits run a program as a file (``python /opt/ml/code/train.py``) from wherever the code was
unpacked; the processes below start in parallel (each imports numpy, pandas and xgboost, which takes a while).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.step_fixtures import REPO_ROOT, PipelineRun

STEPS = ("preprocess", "train", "evaluate", "bias", "monitor")


def test_steps_start_as_files_and_as_modules(tmp_path: Path) -> None:
    code = tmp_path / "code"  # like /opt/ml/code: the package's files, in a folder of another name
    code.mkdir()
    for path in (REPO_ROOT / "sagemaker_code" / "steps").glob("*.py"):
        shutil.copyfile(path, code / path.name)
    commands = [[sys.executable, str(code / f"{step}.py"), "--help"] for step in STEPS]
    # `python -m sagemaker_code.steps.<step>` for every step in one process (what -m does, through runpy).
    as_modules = (
        "import runpy, sys\n"
        f"for step in {list(STEPS)}:\n"
        "    sys.argv = [step, '--help']\n"
        "    try:\n"
        "        runpy.run_module(f'sagemaker_code.steps.{step}', run_name='__main__', alter_sys=True)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, step\n"
    )
    commands.append([sys.executable, "-c", as_modules])
    processes = [
        subprocess.Popen(
            command,
            cwd=REPO_ROOT if "-c" in command else tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    for command, process in zip(commands, processes, strict=True):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, (command, err)
        assert out.count("usage: ") == (len(STEPS) if "-c" in command else 1), command


def test_a_step_run_as_a_file_does_the_work(sample_run: PipelineRun, tmp_path: Path) -> None:
    code = tmp_path / "code"
    shutil.copytree(REPO_ROOT / "sagemaker_code" / "steps", code, ignore=shutil.ignore_patterns("__pycache__"))
    bias_inputs = sample_run.evaluation / "bias"
    subprocess.run(
        [
            *(sys.executable, str(code / "bias.py"), "--config", str(bias_inputs / "analysis_config.json")),
            *("--data", str(bias_inputs / "dataset.csv"), "--output", str(tmp_path / "out")),
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    assert json.loads((tmp_path / "out" / "analysis.json").read_text()) == sample_run.analysis()
