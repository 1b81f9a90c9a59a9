"""Helpers shared by the benchmark scripts: processes, /proc sampling, throwaway services, tables.

Everything binds to 127.0.0.1. Processes are started in their own session and stopped by
their own id (SIGTERM to their process group, SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
NCPU = os.cpu_count() or 1

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def load_average() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def cpu_times() -> tuple[int, int]:
    """(all, stolen) CPU time of the machine so far, in clock ticks (/proc/stat). Stolen time is
    what the hypervisor gave to other guests while this one had work: a share of it over a phase
    says the figures of that phase were taken on a machine slower than it looked."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    return sum(fields[:8]), (fields[7] if len(fields) > 7 else 0)


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[0] - before[0]
    return (after[1] - before[1]) / total if total > 0 else 0.0


# Processes -----------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    product: bool = True  # counted in the product's RSS and CPU

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(5)


class Processes:
    """Starts processes with one environment and stops all of them (newest first) on exit."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.procs: list[Proc] = []

    def start(self, name: str, argv: list[str], *, product: bool = True, env: dict[str, str] | None = None) -> Proc:
        log = self.log_dir / f"{name}.log"
        fh = log.open("ab")
        popen = subprocess.Popen(
            argv, cwd=ROOT, env={**self.env, **(env or {})}, stdout=fh, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        fh.close()
        proc = Proc(name, popen, log, product)
        self.procs.append(proc)
        return proc

    def check(self) -> None:
        for proc in self.procs:
            if not proc.alive():
                tail = proc.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{tail}")

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def product(self) -> list[Proc]:
        return [p for p in self.procs if p.product]

    def named(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """pid and all processes below it (Celery's prefork children, for example)."""
    children = children_map() if children is None else children
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (not of its children)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


class Sampler:
    """Samples the summed RSS of groups of process trees every `interval` seconds, and their CPU.

    `groups` maps a label to a function returning root pids; the trees below them are included.
    CPU is read from each pid seen; processes that ended before the last sample lose their
    last interval's share (workers here live for the whole run, so that does not happen).
    """

    def __init__(self, groups: dict[str, callable], interval: float = 0.1):
        self.groups = groups
        self.interval = interval
        self.peak_kb: dict[str, int] = {k: 0 for k in groups}
        self.peak_by_pid: dict[int, tuple[str, int]] = {}
        self._cpu_last: dict[int, float] = {}
        self.cpu: dict[str, float] = {k: 0.0 for k in groups}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        children = children_map()
        for label, roots in self.groups.items():
            total = 0
            for root in roots():
                for pid in descendants(root, children):
                    kb = rss_kb(pid)
                    total += kb
                    if kb > self.peak_by_pid.get(pid, ("", 0))[1]:
                        self.peak_by_pid[pid] = (label, kb)
                    now = cpu_seconds(pid)
                    self.cpu[label] += max(0.0, now - self._cpu_last.get(pid, 0.0))
                    self._cpu_last[pid] = now
            self.peak_kb[label] = max(self.peak_kb[label], total)

    def reset_peaks(self) -> None:
        self.peak_kb = {k: 0 for k in self.groups}

    def cpu_seen(self, pid: int) -> float:
        """The CPU seconds of `pid` at its last sample (0 if never sampled)."""
        return self._cpu_last.get(pid, 0.0)

    def cpu_snapshot(self) -> dict[str, float]:
        self.sample()
        return dict(self.cpu)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


# HTTP --------------------------------------------------------------------------------------


def http_json(method: str, url: str, body: dict | None = None, timeout: float = 30) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def wait_http(url: str, timeout: float = 60.0, procs: Processes | None = None) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if procs is not None:
            procs.check()
        try:
            with opener.open(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


# Throwaway PostgreSQL and Redis --------------------------------------------------------------


def pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql).")
    return candidates[-1].parent


class ThrowawayPostgres:
    """initdb + pg_ctl on a loopback port in a temporary directory; stopped and removed on exit.
    Default durability settings (fsync and synchronous_commit on)."""

    def __init__(self, work: Path, port: int | None = None, settings: list[str] | None = None):
        self.work = work
        self.port = port or free_port()
        self.settings = settings or []
        self.data = work / "pg"
        self.sock = work / "pgsock"
        self.bin = pg_bin()
        self.as_root = os.geteuid() == 0

    def _run(self, command: str) -> None:
        if self.as_root:
            subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", command], check=True, stdout=subprocess.DEVNULL)
        else:
            subprocess.run(["/bin/sh", "-c", command], check=True, stdout=subprocess.DEVNULL)

    def start(self) -> ThrowawayPostgres:
        self.data.mkdir(parents=True)
        self.sock.mkdir()
        os.chmod(self.work, 0o777)
        os.chmod(self.sock, 0o777)
        if self.as_root:
            shutil.chown(self.data, "postgres")
        self._run(f"{self.bin}/initdb -D {self.data} -U postgres -A trust >/dev/null")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.sock} -c max_connections=200"
        options += "".join(f" -c {setting}" for setting in self.settings)
        self._run(f"{self.bin}/pg_ctl -D {self.data} -o '{options}' -l {self.work}/pg.log -w start >/dev/null")
        self._run(f"{self.bin}/createdb -h 127.0.0.1 -p {self.port} -U postgres qflows")
        return self

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/qflows"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(f"{self.bin}/pg_ctl -D {self.data} -m fast stop >/dev/null 2>&1")


class ThrowawayRedis:
    def __init__(self, work: Path, port: int | None = None):
        self.port = port or free_port()
        self.log = work / "redis.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> ThrowawayRedis:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server).")
        with self.log.open("wb") as fh:
            self.popen = subprocess.Popen(
                [exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return self
            time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.popen.pid if self.popen else 0

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()


class CpuSlice:
    """A CPU control group holding processes to `cores` of a core (a quota of `cores` × 100 ms in
    every 100 ms period), so that a figure of those processes can be measured while the rest of the
    machine has room: two worker processes held to a quarter of a core each, on two cores, show
    what a second process adds when the database, the fake service and the senders are not short
    of CPU. cgroup v1 (`cpu` controller) or v2 (`cpu.max`); needs root."""

    # With 10 ms periods a threaded Python process held to a quarter of a core spent 2.5 times the
    # CPU per run it spends unheld: its threads, woken at each period's start after waiting past
    # the interpreter's 5 ms switch interval, all asked for the lock at once. 100 ms periods (the
    # kernel's default) cost it about 1.5 times, the same with one process or two.
    PERIOD_US = 100_000

    def __init__(self, name: str, cores: float):
        self.cores = cores
        quota = max(1000, int(cores * self.PERIOD_US))
        group = f"qflows-bench-{os.getpid()}-{name}"
        v1, v2 = Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup")
        v2_controllers = v2 / "cgroup.controllers"
        if (v1 / "cpu.cfs_quota_us").exists():
            self.path = v1 / group
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        elif v2_controllers.exists() and "cpu" in v2_controllers.read_text().split():
            with contextlib.suppress(OSError):
                (v2 / "cgroup.subtree_control").write_text("+cpu")
            self.path = v2 / group
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.max").write_text(f"{quota} {self.PERIOD_US}")
        else:
            raise RuntimeError("No writable CPU control group here (cgroup v1 `cpu` or v2 `cpu.max`): "
                               "--celery-cpu needs root on Linux.")

    def add(self, pid: int) -> None:
        """Moves the process (all its threads, and the children it starts later) into the slice."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def throttled_share(self) -> float:
        """The share of periods in which the slice's processes had used up their quota."""
        stats = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if " " in line)
        periods = int(stats.get("nr_periods", 0))
        return int(stats.get("nr_throttled", 0)) / periods if periods else 0.0

    def remove(self) -> None:
        """Removes the slice once its processes are gone (a slice still holding one is left)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()


def work_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def work_dir_done(work: Path, keep: bool) -> None:
    """Removes a script's temporary directory, or says where it is when asked to keep it."""
    if keep:
        print(f"Kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The product's environment for a benchmark: its own data directory, quiet logs."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "DATA_DIR")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATA_DIR": str(data_dir),
        "MEDIA_ROOT": str(data_dir / "files"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    env.update(extra)
    return env


def django_setup(env: dict[str, str]) -> None:
    """Configure Django in this process with the same settings as the product processes."""
    os.environ.update(env)
    import django

    django.setup()


# Output --------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    rows = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


@dataclass
class Figure:
    name: str
    target: str
    measured: str
    ok: bool | None = None
    mode: str = ""
    notes: list[str] = field(default_factory=list)
