"""Functions run with WorkerPool.call in tests: each ends its worker the way a bad candidate can."""

import ctypes
import os
import time
import uuid

# Which worker process ran a call. Not the pid: every worker is pid 2 of its own PID namespace.
PROCESS = uuid.uuid4().hex


def kill9(_payload):
    os.kill(os.getpid(), 9)


def segfault(_payload):
    ctypes.string_at(0)


def sleep(payload):
    time.sleep(payload["seconds"])
    return "slept"


def patch_torch(_payload):
    import torch

    torch.allclose = lambda *a, **k: True
    return "patched"


def echo(payload):
    return {"got": payload, "pid": os.getpid(), "process": PROCESS}


def boom(_payload):
    raise ValueError("boom from the worker")
