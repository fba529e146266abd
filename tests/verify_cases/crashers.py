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


def hold_device(payload, ctx):
    """Have the device to itself for `seconds` (as GPU timing does), then maybe die inside the block."""
    with ctx.exclusive():
        start = time.time()
        time.sleep(payload["seconds"])
        if payload.get("die"):
            os._exit(3)
        end = time.time()
    return {"start": start, "end": end}


hold_device.wants_context = True


def steps(payload):
    """`n` steps of 10 ms of this process's own progress, with the wall-clock time of each."""
    stamps = []
    for _ in range(payload["n"]):
        stamps.append(time.time())
        time.sleep(0.01)
    return {"stamps": stamps}
