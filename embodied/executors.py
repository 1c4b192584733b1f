"""Where sweep episodes run: a pool of local worker processes (default) or a Ray cluster.

Both executors take the same jobs and worker function and report to the same listener, one job at
a time, so the sweep orchestration (progress, results, resume) is shared. Neither retries a job that
failed on its own: a Python exception or a dead worker process marks that episode failed with the
reason and the sweep goes on. Jobs that were merely caught in a broken pool (their process was
stopped because another worker died) are run again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import resource
import signal
import socket
import sys
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from embodied.errors import EmbodiedError

MARKER = "worker.json"  # written by the worker into the episode directory when the episode starts
WORKER_LOG = "worker.log"  # the episode's stdout and stderr


class ExecutorUnavailable(EmbodiedError):
    """The chosen executor cannot run here (e.g. ``ray`` is not installed or not reachable)."""


@dataclass(frozen=True)
class EpisodeJob:
    """One episode of a sweep: a resolved config (plain data, seed set) and where to write it."""

    variant: str
    task: str
    seed: int
    config: dict[str, Any]
    config_dir: str  # absolute: base directory for files the config names (model cassettes, ...)
    run_dir: str  # absolute episode directory
    copies: tuple[tuple[str, str], ...] = ()  # (source, destination) files to put in place before it runs

    @property
    def label(self) -> str:
        return f"{self.variant}/{self.task}/seed-{self.seed}"


@dataclass
class JobOutput:
    """What a worker sends back: the episode's summary.json content and facts about the worker."""

    summary: dict[str, Any]
    pid: int
    host: str
    max_rss_mb: float  # peak resident memory of the worker process so far (MiB)
    wall_time_s: float


Worker = Callable[[EpisodeJob], dict[str, Any]]


class JobListener(Protocol):
    def started(self, job: EpisodeJob) -> None:
        """Called just before the job is handed to a worker."""

    def finished(self, job: EpisodeJob, output: JobOutput) -> None: ...

    def failed(self, job: EpisodeJob, reason: str, detail: str = "") -> None: ...


class EpisodeExecutor(Protocol):
    """Runs every job once and reports each through the listener. On KeyboardInterrupt it stops
    its workers (running episodes are abandoned) and re-raises; the caller marks them interrupted."""

    workers: int

    def run(self, jobs: Sequence[EpisodeJob], worker: Worker, listener: JobListener) -> None: ...


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so C libraries such as
    pybullet are caught too) to ``path`` for the duration: worker chatter belongs in the episode
    directory, not across the parent's progress bar."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


def execute(worker: Worker, job: EpisodeJob) -> JobOutput:
    """Runs inside the worker process: leave a marker (pid, host) so a crash can be attributed,
    run the episode with its output captured in ``worker.log``, and return its summary with the
    worker's peak memory."""
    t0 = time.perf_counter()
    run_dir = Path(job.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    marker = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    tmp = run_dir / f".{MARKER}.tmp{os.getpid()}"
    tmp.write_text(json.dumps(marker) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / MARKER)  # readers (crash triage, watchers) never see half a marker
    with output_to(run_dir / WORKER_LOG):
        summary = worker(job)
    return JobOutput(summary=summary, pid=os.getpid(), host=socket.gethostname(), max_rss_mb=max_rss_mb(),
                     wall_time_s=round(time.perf_counter() - t0, 3))


def max_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """One line for the results table and the full traceback (remote part included) for the file."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return reason, "".join(traceback.format_exception(exc))


def exit_text(code: int) -> str:
    """Human wording of a process exit code (negative = killed by that signal)."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        extra = " (killed from outside, e.g. by the out-of-memory killer)" if -code == signal.SIGKILL else ""
        return f"was killed by {name}{extra}"
    return f"exited with status {code}"


def _marker_pid(job: EpisodeJob) -> int | None:
    try:
        return int(json.loads((Path(job.run_dir) / MARKER).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# ---------------------------------------------------------------------------------------------
# Local process pool


# Numeric libraries start one thread per core in every process; with one worker per core that
# oversubscribes the machine. Ray does the same for its tasks. Explicit user settings win.
SINGLE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                     "OPENCV_FOR_THREADS_NUM")


def _init_worker() -> None:
    """Worker initializer, before any episode imports its libraries. Ctrl-C reaches the whole
    process group; only the parent handles it, so workers print no tracebacks and the parent
    decides what to stop. Numeric libraries get one thread each (see ``SINGLE_THREAD_ENV``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in SINGLE_THREAD_ENV:
        os.environ.setdefault(name, "1")


def _pool_processes(pool: ProcessPoolExecutor) -> list[multiprocessing.process.BaseProcess]:
    """The pool's worker processes. ``concurrent.futures`` offers no public way to learn a dead
    worker's exit code or to stop running workers (before Python 3.14), so this reads the pool's
    ``_processes`` mapping; if a future Python drops it, crashes are still handled, only with a less
    precise reason."""
    procs = getattr(pool, "_processes", None) or {}
    return list(procs.values())


class LocalExecutor:
    """A ``ProcessPoolExecutor`` with the ``spawn`` or ``forkserver`` start method (pybullet and
    ``fork`` do not mix: a forked child inherits the parent's physics client state and threads).

    At most ``workers`` jobs are in flight, so every submitted job is running. When a worker process
    dies (SIGKILL, segfault) the pool breaks and every in-flight future fails alike; the job whose
    worker died of something other than the pool's own SIGTERM is marked failed with that exit
    status, the others are run again in a fresh pool (at most ``max_requeues`` times each).
    """

    def __init__(self, workers: int | None = None, *, start_method: str = "forkserver",
                 episodes_per_worker: int | None = None, preload: Sequence[str] = (), max_requeues: int = 3) -> None:
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(f"start_method must be 'spawn' or 'forkserver', not {start_method!r}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers if workers is not None else os.cpu_count() or 1
        self.start_method = start_method
        self.episodes_per_worker = episodes_per_worker
        self.preload = list(preload)
        self.max_requeues = max_requeues

    def _new_pool(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver" and self.preload:
            ctx.set_forkserver_preload(self.preload)  # only takes effect before the server first starts
        return ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                   max_tasks_per_child=self.episodes_per_worker)

    def run(self, jobs: Sequence[EpisodeJob], worker: Worker, listener: JobListener) -> None:
        queue: deque[EpisodeJob] = deque(jobs)
        inflight: dict[Future[JobOutput], EpisodeJob] = {}
        requeues: Counter[str] = Counter()
        strikes: Counter[str] = Counter()
        pool = self._new_pool()
        try:
            while queue or inflight:
                broken = False
                while queue and len(inflight) < self.workers:
                    job = queue.popleft()
                    listener.started(job)  # before submitting: the listener may prepare the episode directory
                    try:
                        future = pool.submit(execute, worker, job)
                    except BrokenProcessPool:
                        queue.appendleft(job)
                        broken = True
                        break
                    inflight[future] = job
                done, _ = wait(inflight, timeout=None if broken else 1.0, return_when=FIRST_COMPLETED)
                caught: list[EpisodeJob] = []
                for future in done:
                    broken |= self._collect(future, inflight.pop(future), listener, caught)
                if broken:
                    for future in wait(inflight).done:  # a broken pool fails every other future at once
                        self._collect(future, inflight.pop(future), listener, caught)
                    procs = _pool_processes(pool)
                    pool.shutdown(wait=True)
                    exit_codes = {p.pid: p.exitcode for p in procs}
                    retry = self._triage(caught, exit_codes, listener, requeues, strikes)
                    queue.extendleft(reversed(retry))
                    pool = self._new_pool()
        except KeyboardInterrupt:
            self._stop(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _collect(future: Future[JobOutput], job: EpisodeJob, listener: JobListener, caught: list[EpisodeJob]) -> bool:
        exc = future.exception()
        if exc is None:
            listener.finished(job, future.result())
            return False
        if isinstance(exc, BrokenProcessPool):
            caught.append(job)
            return True
        listener.failed(job, *describe_exception(exc))
        return False

    def _triage(self, caught: list[EpisodeJob], exit_codes: dict[int | None, int | None], listener: JobListener,
                requeues: Counter[str], strikes: Counter[str]) -> list[EpisodeJob]:
        """Decide, for each job caught in a broken pool, whether its worker died (fail it) or was
        stopped because another one died (run it again). Returns the jobs to run again."""
        culprits: list[tuple[EpisodeJob, int, int]] = []
        bystanders: list[EpisodeJob] = []
        unknown: list[EpisodeJob] = []
        for job in caught:
            pid = _marker_pid(job)
            code = exit_codes.get(pid) if pid is not None else None
            if pid is None:
                bystanders.append(job)  # had not started: its worker never wrote the marker
            elif code is None:
                unknown.append(job)
            elif code == -signal.SIGTERM:
                bystanders.append(job)  # the pool terminates the surviving workers when one dies
            else:
                culprits.append((job, pid, code))
        if not culprits:  # nobody died on their own (e.g. an outside SIGTERM): cannot tell, count strikes
            unknown += [j for j in bystanders if _marker_pid(j) is not None]
            bystanders = [j for j in bystanders if _marker_pid(j) is None]
        retry: list[EpisodeJob] = []
        for job, pid, code in culprits:
            listener.failed(job, f"worker process {pid} {exit_text(code)} (BrokenProcessPool)")
        for job in unknown:
            strikes[job.label] += 1
            if strikes[job.label] >= 2:
                listener.failed(job, "worker process died twice while running this episode; cause unknown "
                                     "(BrokenProcessPool)")
            else:
                retry.append(job)
        for job in bystanders:
            requeues[job.label] += 1
            if requeues[job.label] > self.max_requeues:
                listener.failed(job, f"the worker pool broke {requeues[job.label]} times while this episode ran "
                                     "(BrokenProcessPool)")
            else:
                retry.append(job)
        return retry

    @staticmethod
    def _stop(pool: ProcessPoolExecutor) -> None:
        """Ctrl-C: drop queued work and stop the running workers now (an episode may take minutes)."""
        procs = _pool_processes(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(5.0)
            if p.is_alive():
                p.kill()
                p.join()


# ---------------------------------------------------------------------------------------------
# Ray


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ExecutorUnavailable("executor 'ray' needs the ray package (pip install 'embodied[ray]')") from exc
    return ray


class RayExecutor:
    """The same jobs as Ray tasks (one CPU each, never retried by Ray: a crash is a result).

    Connects to ``address`` (a running cluster, e.g. ``"auto"`` or ``"ray://head:10001"``) or starts
    a local Ray instance with ``workers`` CPUs. Episode directories are written by the workers, so
    on a multi-machine cluster the sweep directory must be on a shared filesystem; results come back
    through Ray either way. Workers import ``embodied`` from their own environment: install the
    project on every node (the local instance inherits this process's ``sys.path``).
    """

    def __init__(self, workers: int | None = None, *, address: str | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers if workers is not None else os.cpu_count() or 1
        self.address = address
        self._explicit_workers = workers is not None  # else a cluster's size is read from the cluster

    def _init(self, ray: Any) -> bool:
        if ray.is_initialized():
            return False
        env = {name: os.environ.get(name, "1") for name in SINGLE_THREAD_ENV}
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                   "logging_level": logging.WARNING}
        if self.address:
            options["address"] = self.address
        else:
            options["num_cpus"] = self.workers
            env["PYTHONPATH"] = os.pathsep.join(p for p in _import_path() if p)
        options["runtime_env"] = {"env_vars": env}
        # The processes of a local instance (GCS, raylet, workers) are started now and inherit an
        # ignored SIGINT: Ctrl-C then reaches only this driver, which stops the sweep in order,
        # instead of killing the instance under it.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            ray.init(**options)
        except ConnectionError as exc:
            raise ExecutorUnavailable(f"cannot reach the Ray cluster at {self.address!r}: {exc}") from exc
        finally:
            signal.signal(signal.SIGINT, previous)
        return True

    def run(self, jobs: Sequence[EpisodeJob], worker: Worker, listener: JobListener) -> None:
        ray = _import_ray()
        started_here = self._init(ray)
        inflight: dict[Any, EpisodeJob] = {}
        try:
            if self.address and not self._explicit_workers:
                self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
            capacity = self.workers
            task = ray.remote(num_cpus=1, max_retries=0)(execute)
            queue: deque[EpisodeJob] = deque(jobs)
            while queue or inflight:
                while queue and len(inflight) < capacity:
                    job = queue.popleft()
                    listener.started(job)
                    inflight[task.remote(worker, job)] = job
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
                for ref in ready:
                    job = inflight.pop(ref)
                    try:
                        output = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # the episode raised
                        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                        reason, detail = describe_exception(cause)
                        listener.failed(job, reason, detail or str(exc))
                    except ray.exceptions.RayError as exc:  # the worker died, ran out of memory, node lost
                        listener.failed(job, f"Ray worker failed: {describe_exception(exc)[0]}", str(exc))
                    else:
                        listener.finished(job, output)
        except KeyboardInterrupt:
            for ref in inflight:
                ray.cancel(ref, force=True)  # a no-op for a task that has just finished
            raise
        finally:
            if started_here:
                ray.shutdown()


def _import_path() -> list[str]:
    """This process's import path with relative entries made absolute (workers start elsewhere)."""
    return [str(Path(p).resolve()) if p else str(Path.cwd()) for p in sys.path]
