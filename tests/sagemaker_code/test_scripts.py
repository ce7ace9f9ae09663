"""Every step runs as ``python -m sagemaker_code.<step>`` and as a file, also from a folder not named sagemaker_code.

The SageMaker toolkits run a program as a file (``python /opt/ml/code/train.py``) from wherever the code was
unpacked; the processes below start in parallel (each imports numpy, pandas and xgboost).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.sagemaker_code.conftest import REPO_ROOT, PipelineRun

STEPS = ("preprocess", "train", "evaluate", "bias")


def test_steps_start_as_modules_and_as_files(tmp_path: Path) -> None:
    code = tmp_path / "code"  # like /opt/ml/code: the package's files, in a folder of another name
    code.mkdir()
    for path in (REPO_ROOT / "sagemaker_code").glob("*.py"):
        shutil.copyfile(path, code / path.name)
    commands = [[sys.executable, "-m", f"sagemaker_code.{step}", "--help"] for step in STEPS]
    commands += [[sys.executable, str(code / f"{step}.py"), "--help"] for step in STEPS]
    processes = [
        subprocess.Popen(
            command,
            cwd=REPO_ROOT if "-m" in command else tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    for command, process in zip(commands, processes, strict=True):
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, (command, err)
        assert out.startswith("usage: "), command


def test_a_step_run_as_a_file_does_the_work(sample_run: PipelineRun, tmp_path: Path) -> None:
    code = tmp_path / "code"
    shutil.copytree(REPO_ROOT / "sagemaker_code", code, ignore=shutil.ignore_patterns("__pycache__"))
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
