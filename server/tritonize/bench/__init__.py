"""`tritonize bench` (issue 9): discover.py finds problem files, run.py runs them through the
pipeline and keeps the resume state, results.py summarises and renders the records. Runs in the CLI
process (no torch); cli/bench.py is its command line."""
