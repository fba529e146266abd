"""The template generator's torch side (runs in a verify worker): `build.py` is the entry point;
capture.py → lower.py (with lowering/) → ir.py → fuse.py → patterns/ → emit.py. See docs/TEMPLATES.md."""
