"""The `tritonize` command line (main.py: parsing and dispatch; one module per command; common.py:
what they share). Runs in the CLI process, which never imports torch, triton or model runtimes."""
