"""Everything that runs inside a verify worker process (`python -m tritonize.worker.main`).

This package imports torch and triton, runs candidate code in its sandbox, and is started only by
verify/process.py. Nothing in the server process imports it (DESIGN.md, invariant 1): the server
reaches it through the worker's entry points (main.py: ENTRY_POINTS) with wire/messages.py.

main.py      the process: sandbox first, then torch; hello, jobs, the entry-point table
verify.py    the "probe" and "verify" entry points, top to bottom
inputs.py    problem module, seeds, recipe, reference        compare.py   tolerance, comparison, numbers
checks.py    launches, aliasing, mutation, poisoning, tampering, CUDA faults
candidate_module.py  importing the candidate and classifying its errors
context.py errors.py trees.py   job context, verdicts, nested tensors
guards.py sandbox.py static.py timing.py   torch-op recorder, sandbox, static rules, GPU timing
inductor_capture.py template/   torch-side halves of the Inductor and template generators

It may import wire/ and the plain data modules (report.py, candidate.py), never verify/ or the
server's other packages.
"""
