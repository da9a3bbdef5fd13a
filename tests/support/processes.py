"""Start real modqueue processes (Celery workers, the dev stack) for pipeline tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def modqueue_env(settings, **extra: str) -> dict[str, str]:
    """The environment a modqueue process reads, built from test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODQUEUE_")}
    env.update(
        MODQUEUE_DATABASE_URL=settings.database_url,
        MODQUEUE_REDIS_URL=settings.redis_url,
        MODQUEUE_SECRET_KEY=settings.secret_key,
        MODQUEUE_TOXICITY_MODEL=settings.toxicity_model,
        MODQUEUE_INSTANCE_PATH=str(settings.instance_path),
        MODQUEUE_BATCH_INTERVAL_SECONDS="0.1",
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(ROOT),
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


class RunningProcess:
    """A child process whose output goes to a log file the test can read."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        def seen() -> bool:
            if self.popen.poll() is not None:
                raise AssertionError(f"process exited early ({self.popen.returncode}):\n{self.log[-3000:]}")
            return text in self.log

        wait_until(seen, timeout, 0.2, message=f"{text!r} in {self.log_path.name}")

    def tree(self) -> list[psutil.Process]:
        try:
            parent = psutil.Process(self.popen.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill_hard(self) -> None:
        """SIGKILL the process and all its children at once, as a crashed host would."""
        for process in self.tree():
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        self.popen.wait(10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_hard()
        for process in self.tree():
            process.kill()
        self._log.close()
        return self.popen.returncode


def start_worker(settings, log_path: Path, *, module: str = "workers.main", **extra_env: str) -> RunningProcess:
    """A real `celery worker` (prefork, one child) against the test Postgres and Redis."""
    args = [sys.executable, "-m", "celery", "-A", module, "worker", "--concurrency", "1",
            "--loglevel", "INFO", "--without-mingle", "--without-gossip", "-n", f"test-{log_path.stem}@%h"]
    worker = RunningProcess(args, modqueue_env(settings, **extra_env), log_path)
    worker.wait_for_log("ready.")
    return worker
