"""Where the Train step runs: the CPUs it may use, the training job's hosts, and distributed training over several
hosts (two processes on the loopback address stand in for two instances)."""

from __future__ import annotations

import json
import multiprocessing
import socket
from pathlib import Path

import pytest

from sagemaker_code.steps.cluster import Cluster, available_cpus, busy_cpus, cgroup_cpu_limit
from sagemaker_code.steps.common import StepError
from sagemaker_code.steps.spec import load_spec
from sagemaker_code.steps.train import train
from tests.step_fixtures import PipelineRun

FAST = {
    "max_depth": 4,
    "eta": 0.1,
    "num_round": 20,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 1.0,
    "early_stopping_rounds": 5,
    "seed": 42,
}


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000", "cpu/cpu.cfs_period_us": "100000"}, 2.0),
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        ({}, None),
    ],
)
def test_cgroup_quota_v2_and_v1(tmp_path: Path, files: dict[str, str], limit: float | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_limit(tmp_path) == limit


def test_the_cpus_available_are_the_affinity_capped_by_the_quota_and_the_load(tmp_path: Path) -> None:
    def cpus(affinity: int, load: float = 0.0, **environ: str) -> int:
        return available_cpus(tmp_path, affinity=lambda: affinity, load=lambda: load, environ=environ)

    assert cpus(8) == 8  # no quota, idle
    assert cpus(8, load=2.6) == 5  # the busy machine's idle CPUs
    assert cpus(2, load=5.0) == 1  # a busy 2-core machine: one thread, at least
    assert cpus(8, OMP_NUM_THREADS="3") == 3
    assert cpus(8, OMP_NUM_THREADS="") == 8
    (tmp_path / "cpu.max").write_text("150000 100000")
    assert cpus(8) == 1  # 1.5 CPUs: a second thread would be throttled
    (tmp_path / "cpu.max").write_text("400000 100000")
    assert cpus(2) == 2  # pinned to two cores
    (tmp_path / "cpu.max").write_text("50000 100000")
    assert cpus(2) == 1  # at least one


def test_busy_cpus_are_measured_now_not_averaged_over_a_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stat = tmp_path / "stat"
    # 1000 jiffies pass while the sleep lasts: 250 of them busy (user + system), the rest idle or iowait
    readings = iter(["cpu  100 0 100 700 100 0 0 0 0 0\n", "cpu  300 0 150 1350 200 0 0 0 0 0\n"])
    stat.write_text(next(readings))
    monkeypatch.setattr("sagemaker_code.steps.cluster.time.sleep", lambda _: stat.write_text(next(readings)))
    monkeypatch.setattr("sagemaker_code.steps.cluster.os.cpu_count", lambda: 4)
    assert busy_cpus(stat) == pytest.approx(4 * 250 / 1000)
    # no /proc/stat (macOS): the load average
    monkeypatch.setattr("sagemaker_code.steps.cluster.os.getloadavg", lambda: (1.5, 1.0, 1.0))
    assert busy_cpus(tmp_path / "missing") == 1.5


def test_hosts_from_the_toolkits_variables() -> None:
    assert Cluster.from_environ({}) == Cluster.single()
    cluster = Cluster.from_environ({"SM_HOSTS": '["algo-2", "algo-1"]', "SM_CURRENT_HOST": "algo-2"})
    assert (cluster.hosts, cluster.rank, cluster.size, cluster.leader, cluster.is_leader) == (
        ("algo-1", "algo-2"),
        1,
        2,
        "algo-1",
        False,
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SM_HOSTS": "algo-1"}, "SM_HOSTS is not JSON"),
        ({"SM_HOSTS": "[]"}, "SM_HOSTS must be a JSON list of host names"),
        ({"SM_HOSTS": '["a", "a"]', "SM_CURRENT_HOST": "a"}, "SM_HOSTS names a host more than once"),
        ({"SM_HOSTS": '["a", "b"]', "SM_CURRENT_HOST": "c"}, "SM_CURRENT_HOST='c' is not one of SM_HOSTS"),
        ({"SM_HOSTS": '["a", "b"]'}, "SM_CURRENT_HOST=None is not one of SM_HOSTS"),
    ],
)
def test_bad_cluster_variables(environ: dict[str, str], message: str) -> None:
    with pytest.raises(StepError, match=message):
        Cluster.from_environ(environ)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _host(cluster: Cluster, channels: tuple[Path, Path, Path], out: Path, spec: Path) -> None:
    """One training host (a process of its own, like an instance)."""
    current = cluster.current
    report = train(*channels, out / current / "model", FAST, spec=load_spec(spec), cluster=cluster, threads=1)
    (out / f"{current}.json").write_text(json.dumps(report))


def train_on_two_hosts(run: PipelineRun, shards: list[list[str]], out: Path) -> dict[str, dict[str, object]]:
    """Train with two hosts on loopback; host i's sharded train channel holds the lines ``shards[i]``."""
    hosts = ("127.0.0.1", "localhost")  # two names of this machine: the leader is the first, sorted
    port = free_port()
    context = multiprocessing.get_context("spawn")
    processes = []
    for host, lines in zip(hosts, shards, strict=True):
        channel = out / host / "train"
        channel.mkdir(parents=True)
        if lines:
            (channel / "part-00000.csv").write_text("".join(lines))
        channels = (channel, run.data / "validation", run.data / "transform")
        processes.append(context.Process(target=_host, args=(Cluster(hosts, host, port), channels, out, run.spec_path)))
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
        assert process.exitcode == 0
    return {host: json.loads((out / f"{host}.json").read_text()) for host in hosts}


def test_two_hosts_train_one_model_on_their_own_shards(sample_run: PipelineRun, tmp_path: Path) -> None:
    lines = (sample_run.data / "train" / "train.csv").read_text().splitlines(keepends=True)
    reports = train_on_two_hosts(sample_run, [lines[::2], lines[1::2]], tmp_path)
    leader, other = reports["127.0.0.1"], reports["localhost"]
    assert leader["rows"] == other["rows"] == {"train": 700, "validation": 150}  # counted over both hosts
    assert leader["hosts"] == ["127.0.0.1", "localhost"]
    for key in ("best_round", "validation_auc", "decision_threshold", "bias_mitigation"):
        assert leader[key] == other[key], key  # every host grows the same trees
    assert (tmp_path / "127.0.0.1" / "model" / "xgboost-model.json").is_file()
    assert (tmp_path / "127.0.0.1" / "model" / "comparison" / "xgboost-model.json").is_file()
    assert not (tmp_path / "localhost" / "model").exists()  # only the leader writes the job's model
    assert isinstance(leader["validation_auc"], float)
    assert leader["validation_auc"] > 0.7


def test_a_host_without_train_files_still_takes_part(sample_run: PipelineRun, tmp_path: Path) -> None:
    """More instances than train files: a host gets no file, trains on no rows and joins every allreduce."""
    lines = (sample_run.data / "train" / "train.csv").read_text().splitlines(keepends=True)
    reports = train_on_two_hosts(sample_run, [[], lines], tmp_path)
    assert reports["127.0.0.1"]["rows"] == {"train": 700, "validation": 150}
    assert reports["127.0.0.1"]["best_round"] == reports["localhost"]["best_round"]
    assert (tmp_path / "127.0.0.1" / "model" / "xgboost-model.json").is_file()
