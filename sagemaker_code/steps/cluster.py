"""Where the Train step runs: the training job's hosts, the collective that joins them, and the CPUs it may use.

**Hosts.** SageMaker's training toolkit names every instance of a job (``SM_HOSTS``: ``["algo-1", "algo-2"]``) and
this one (``SM_CURRENT_HOST``). With more than one, XGBoost trains distributed: each host trains on the train files
it received (the train channel is sharded by S3 key) and the hosts combine their histograms through XGBoost's
collective (allreduce), so every host grows the same trees. This follows what the XGBoost framework container's own
``sagemaker_xgboost_container.distributed`` does (hosts sorted, the first one runs ``xgboost.tracker.RabitTracker``,
each host's rank is its position, connection retried while the tracker starts), with XGBoost's public API only: the
step code may import nothing but the standard library and the image's packages, and the container's helper is not a
documented API.

**CPUs.** XGBoost starts one thread per processor it sees. In a container limited by a cgroup CPU quota, or a process
pinned to fewer cores, or on a machine that is busy, more threads than the CPUs it may actually use spin at OpenMP
barriers and slow training down many times over (measured here: 0.2 s with one thread, 3.4 s with two, on a 2-core
machine with a load of 5). :func:`available_cpus` is the CPU affinity (``os.sched_getaffinity``), capped by the
cgroup quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``) and by the CPUs the 1-minute load
average leaves idle, at least one; ``OMP_NUM_THREADS``, when set, caps it too. A SageMaker training instance runs
nothing else, so there it is every vCPU.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sagemaker_code.steps import contract
from sagemaker_code.steps.common import StepError

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: How long a host waits for the leader's tracker, and how often it tries to connect in that time.
CONNECT_SECONDS = 300
CONNECT_ATTEMPTS = 30


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs the cgroup quota allows (e.g. 1.5), or None without a quota (cgroup v2 first, then v1)."""
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        if quota != "max":
            with contextlib.suppress(ValueError, ZeroDivisionError):
                return int(quota) / int(period or "100000")
        return None
    quota_v1, period_v1 = _read(root / "cpu" / "cpu.cfs_quota_us"), _read(root / "cpu" / "cpu.cfs_period_us")
    if quota_v1 is not None and period_v1 is not None:
        with contextlib.suppress(ValueError, ZeroDivisionError):
            value = int(quota_v1) / int(period_v1)
            return value if value > 0 else None
    return None


def _cpu_times(stat: Path) -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat's first line (None where there is no /proc/stat)."""
    text = _read(stat)
    if not text or not text.startswith("cpu "):
        return None
    values = [int(value) for value in text.split()[1:9]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def busy_cpus(stat: Path = Path("/proc/stat"), interval: float = 0.25) -> float:
    """How many CPUs other work keeps busy right now: measured over ``interval`` seconds from /proc/stat (the load
    average instead where there is none). Not the 1-minute load average: that still counts the pipeline's previous
    step for a minute after it ended, and would halve the threads of the next one."""
    first = _cpu_times(stat)
    if first is None:
        try:
            return os.getloadavg()[0]
        except OSError:  # pragma: no cover - no load average on this platform
            return 0.0
    time.sleep(interval)
    second = _cpu_times(stat)
    if second is None or second[1] <= first[1]:
        return 0.0
    cpus = os.cpu_count() or 1
    return cpus * (second[0] - first[0]) / (second[1] - first[1])


def available_cpus(
    root: Path = CGROUP_ROOT,
    affinity: Callable[[], int] | None = None,
    load: Callable[[], float] = busy_cpus,
    environ: Mapping[str, str] | None = None,
) -> int:
    """The CPUs this process may use: its CPU affinity, capped by the cgroup quota (rounded down), by the CPUs that
    other work leaves idle (``load``: busy CPUs, rounded) and by ``OMP_NUM_THREADS`` when set; at least 1."""
    if affinity is not None:
        count = affinity()
    elif hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:  # pragma: no cover - macOS/Windows: no affinity call
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        count = min(count, math.floor(limit))
    count = min(count, round(count - load()))
    explicit = (os.environ if environ is None else environ).get("OMP_NUM_THREADS", "")
    if explicit.strip().isdigit() and int(explicit) > 0:
        count = min(count, int(explicit))
    return max(1, count)


@dataclass(frozen=True)
class Cluster:
    """The training job's hosts (sorted) and this host; one host trains alone."""

    hosts: tuple[str, ...]
    current: str
    #: The leader's tracker port (the contract's; another one only to run several clusters on one machine).
    port: int = contract.COLLECTIVE_PORT

    @classmethod
    def single(cls) -> Cluster:
        return cls(hosts=("algo-1",), current="algo-1")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Cluster:
        """From the toolkit's ``SM_HOSTS`` and ``SM_CURRENT_HOST``; without them, one host."""
        raw_hosts, current = environ.get(contract.SM_HOSTS), environ.get(contract.SM_CURRENT_HOST)
        if not raw_hosts:
            return cls.single()
        try:
            hosts = json.loads(raw_hosts)
        except json.JSONDecodeError as exc:
            raise StepError(f"{contract.SM_HOSTS} is not JSON: {exc.msg}") from None
        if not isinstance(hosts, list) or not hosts or not all(isinstance(host, str) and host for host in hosts):
            raise StepError(f"{contract.SM_HOSTS} must be a JSON list of host names, got {raw_hosts!r}")
        if len(set(hosts)) != len(hosts):
            raise StepError(f"{contract.SM_HOSTS} names a host more than once: {raw_hosts}")
        if current is None and len(hosts) == 1:
            current = hosts[0]
        if current is None or current not in hosts:
            raise StepError(f"{contract.SM_CURRENT_HOST}={current!r} is not one of {contract.SM_HOSTS} {hosts}")
        return cls(hosts=tuple(sorted(hosts)), current=current)

    @property
    def size(self) -> int:
        return len(self.hosts)

    @property
    def rank(self) -> int:
        return self.hosts.index(self.current)

    @property
    def leader(self) -> str:
        return self.hosts[0]

    @property
    def is_leader(self) -> bool:
        """The host that writes the model folder (every host holds the same model)."""
        return self.current == self.leader


@contextlib.contextmanager
def collective(
    cluster: Cluster,
    *,
    resolve: Callable[[str], str] = socket.gethostbyname,
    connect_seconds: float = CONNECT_SECONDS,
) -> Iterator[None]:
    """XGBoost's collective over the cluster's hosts for the duration of the block (nothing for one host).

    The leader starts the tracker; every host (the leader included) connects with its rank as task id, retrying
    while the tracker is not up yet. Inside the block ``xgboost.train`` trains distributed and
    ``xgboost.collective.allreduce`` combines values over the hosts.
    """
    if cluster.size == 1:
        yield
        return
    from xgboost import collective as xgb_collective
    from xgboost.tracker import RabitTracker

    address, port = resolve(cluster.leader), cluster.port  # SageMaker's host names resolve once the job's network is up
    tracker = None
    if cluster.is_leader:
        tracker = RabitTracker(n_workers=cluster.size, host_ip=address, port=port, sortby="task")
        tracker.start()
    arguments: dict[str, int | str | None] = {
        "dmlc_tracker_uri": address,
        "dmlc_tracker_port": port,
        "dmlc_task_id": str(cluster.rank),
        "dmlc_timeout": int(connect_seconds),
    }
    logger.info("distributed training: host %s, rank %d of %d", cluster.current, cluster.rank, cluster.size)
    context = None
    deadline = time.monotonic() + connect_seconds
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            context = xgb_collective.CommunicatorContext(**arguments)
            context.__enter__()
            break
        except Exception as exc:
            context = None
            if attempt == CONNECT_ATTEMPTS or time.monotonic() >= deadline:
                if tracker is not None:
                    tracker.free()
                raise StepError(
                    f"host {cluster.current} could not join the training cluster at {cluster.leader} ({address}:"
                    f"{port}) after {attempt} attempts: {exc}"
                ) from None
            time.sleep(min(5.0, connect_seconds / CONNECT_ATTEMPTS))
    try:
        yield
    finally:
        if context is not None:
            context.__exit__(None, None, None)
        if tracker is not None:
            tracker.wait_for(int(connect_seconds))
            tracker.free()
