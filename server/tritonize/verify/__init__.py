"""Verification, server side: the worker pool (DESIGN.md, verification contract).

pool.py      scheduling: slots, the queue, futures, cancellation, time limits, device info
process.py   worker processes: spawn, clean environment, standby spares, log tail, kill and reap

Runs in the server/CLI process and never imports torch or triton, nor anything from worker/ (the
worker runs in its own process and is reached only through wire/). Anyone in the server may import
`verify.pool`.
"""
