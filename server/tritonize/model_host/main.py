"""The model host process: holds a loaded language model between requests.

Runs in its own child process, `python -m tritonize.model_host.main READ_FD WRITE_FD`, started by
the client in generate/host_client.py (which owns the protocol's description). The server process
never imports torch, transformers or llama_cpp (DESIGN.md, invariant 1), so local models run here.
The host loads a model once and keeps it for later requests (keyed by `load_key`), streams progress
and text back while sampling, stops within a step when told to cancel, and after `idle_unload_s`
without requests exits, which frees all of its memory (GPU memory included). Only text goes back:
candidate code never runs here (invariant 2).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import traceback

from ..generate.runtimes import SampleRequest
from ..wire.protocol import Reader, send


def load_key(load: dict) -> str:
    """What identifies a loaded model: settings that change the weights or how they are run."""
    return "|".join(f"{k}={load.get(k)}" for k in ("runtime", "path", "dtype", "gpu_layers", "n_ctx", "threads"))


def _load(load: dict):
    # Imported per runtime: a llama.cpp host never pays for importing transformers, and back.
    if load["runtime"] == "transformers":
        from .hf import HFRuntime

        return HFRuntime.load(load["path"], dtype=load.get("dtype", "auto"), threads=load.get("threads"))
    if load["runtime"] == "llama_cpp":
        from .llamacpp import LlamaCppRuntime

        return LlamaCppRuntime(load["path"], gpu_layers=load.get("gpu_layers", -1), n_ctx=load.get("n_ctx", 8192),
                               threads=load.get("threads"))
    raise ValueError(f"unknown runtime {load['runtime']!r}")


class _Host:
    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.reader = Reader(read_fd)
        self.write_fd = write_fd
        self.send_lock = threading.Lock()
        self.jobs: queue.Queue[dict | None] = queue.Queue()
        self.stop = threading.Event()
        self.current: str | None = None
        self.runtime = None
        self.key: str | None = None
        self.idle_unload_s = 600.0

    def send(self, msg: dict) -> None:
        with self.send_lock:
            send(self.write_fd, msg)

    def listen(self) -> None:
        """Reader thread: jobs go to the queue; cancel acts at once, even mid-generation."""
        while True:
            msg = self.reader.recv()
            if msg is None:  # the server went away
                self.stop.set()
                self.jobs.put(None)
                return
            if msg.get("type") == "cancel":
                if msg.get("id") == self.current:
                    self.stop.set()
            elif msg.get("type") == "exit":
                self.stop.set()
                self.jobs.put(None)
                return
            else:
                self.jobs.put(msg)

    def run(self) -> None:
        threading.Thread(target=self.listen, daemon=True).start()
        while True:
            try:
                job = self.jobs.get(timeout=self.idle_unload_s)
            except queue.Empty:
                self.send({"type": "unloaded", "reason": f"idle for {self.idle_unload_s:g}s"})
                return
            if job is None:
                return
            if job.get("type") == "generate":
                self.generate(job)

    def generate(self, job: dict) -> None:
        job_id = job["id"]
        self.current = job_id
        self.stop.clear()
        self.idle_unload_s = float(job.get("idle_unload_s") or 600.0)
        started = time.monotonic()
        try:
            self.ensure_loaded(job_id, job["load"])
            req = SampleRequest.from_dict(job["request"])
            texts = self.runtime.generate(req, lambda ev: self.send({**ev, "id": job_id}), self.stop)
            self.send({"type": "done", "id": job_id, "texts": texts, "cancelled": self.stop.is_set(),
                       "seconds": time.monotonic() - started})
        except Exception as exc:
            self.send({"type": "error", "id": job_id, "error": f"{type(exc).__name__}: {exc}",
                       "traceback": traceback.format_exc()})
        finally:
            self.current = None

    def ensure_loaded(self, job_id: str, load: dict) -> None:
        key = load_key(load)
        if key == self.key:
            return
        if self.runtime is not None:
            self.runtime.close()
            self.runtime, self.key = None, None
        self.send({"type": "loading", "id": job_id, "message": f"loading {load['path']} ({load['runtime']})"})
        t0 = time.monotonic()
        self.runtime = _load(load)
        self.key = key
        self.send({"type": "loaded", "id": job_id, "model": self.runtime.describe, "seconds": time.monotonic() - t0})


def host_main(argv: list[str]) -> int:
    read_fd, write_fd = int(argv[0]), int(argv[1])
    # Anything a library prints goes to stderr; fd 1 is not ours to write on.
    os.dup2(2, 1)
    _Host(read_fd, write_fd).run()
    return 0


if __name__ == "__main__":
    sys.exit(host_main(sys.argv[1:]))
