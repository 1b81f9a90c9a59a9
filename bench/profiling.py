"""py-spy sampling of running product processes, and a plain-text summary of where time went.

py-spy attaches to a process by id (it needs ptrace: root, or CAP_SYS_PTRACE in a container).
Stacks are written as collapsed text (`--format raw`), one file per process, next to a summary.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

LINE_NO = re.compile(r" \(([^)]*?):\d+\)$")


def py_spy() -> str | None:
    candidate = Path(sys.executable).with_name("py-spy")
    if candidate.exists():
        return str(candidate)
    return shutil.which("py-spy")


class ProfileSession:
    """Records the given processes with py-spy during the phase whose senders count is `enabled_for`."""

    def __init__(self, out_dir: Path, targets: dict[str, int], *, enabled_for: int | None = None, rate: int = 200,
                 idle: bool = False, gil: bool = False):
        self.idle = idle
        self.gil = gil
        self.out_dir = out_dir
        self.targets = targets
        self.enabled_for = enabled_for
        self.rate = rate
        self.phase: int | None = None
        self.running: list[subprocess.Popen] = []
        self.files: dict[str, Path] = {}
        out_dir.mkdir(parents=True, exist_ok=True)
        self.exe = py_spy()
        if self.exe is None:
            print("py-spy is not installed (pip install -r bench/requirements.txt); profiling skipped", flush=True)

    def start(self, duration: float) -> None:
        if self.exe is None or (self.enabled_for is not None and self.phase != self.enabled_for):
            return
        for name, pid in self.targets.items():
            path = self.out_dir / f"{name}-c{self.phase}.txt"
            self.files[name] = path
            self.running.append(subprocess.Popen(
                [self.exe, "record", "--pid", str(pid), "--rate", str(self.rate), "--duration", str(int(duration) + 1),
                 "--format", "raw", "--output", str(path), "--nonblocking", "--subprocesses",
                 *(["--idle"] if self.idle else []), *(["--gil"] if self.gil else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            ))

    def stop(self) -> None:
        for popen in self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(popen.pid, signal.SIGINT)
        for popen in self.running:
            try:
                popen.wait(30)
            except subprocess.TimeoutExpired:
                popen.kill()
        self.running = []

    def summarize(self, top: int = 40) -> None:
        for name, path in self.files.items():
            if not path.exists():
                print(f"(no profile for {name})")
                continue
            text = summarize_collapsed(path, top=top)
            (path.with_suffix(".summary.txt")).write_text(text)
            print(f"\n== py-spy: {name} ({path})\n{text}")


def _frame(frame: str) -> str:
    return LINE_NO.sub(lambda m: f" ({_short(m.group(1))})", frame.strip())


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3."):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def summarize_collapsed(path: Path, top: int = 40) -> str:
    """Top functions by own samples and by samples including callees, from py-spy raw output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += n
        leaf = frames[-1]
        if any(k in leaf for k in ("select (", "poll (", "wait (", "epoll", "sleep (", "accept (", "_wait_for_tstate_lock",
                                   "recv_into (", "readinto (", "acquire (")):
            idle += n
        own[leaf] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return "(no samples)"
    lines = [f"{total} samples; about {idle / total:.0%} waiting (select/poll/sleep/recv/lock)", "", "own samples:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "including callees:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)
