"""Verification: worker pool, the worker, static + runtime checks, timing (DESIGN.md, verification contract).

The server/CLI process imports only `pool` (no torch). `worker`, `runtime`, `timing` and `sandbox`
run inside worker processes.
"""
