"""The tritonize language server: thin, translates LSP ⇄ pipeline (DESIGN.md, language server behaviour).

Entry point: `tritonize serve` → `tritonize.lsp.server.serve(args)`. Nothing here imports torch or
triton; conversions run `pipeline.convert` in a worker thread against one warm `WorkerPool`.
"""
