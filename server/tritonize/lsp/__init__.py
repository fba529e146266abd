"""The tritonize language server: thin, translates LSP ⇄ pipeline (DESIGN.md, language server behaviour).

Entry point: `tritonize serve` → `tritonize.lsp.server.serve(args)`. Nothing here imports torch or
triton; conversions run `pipeline.convert` in a worker thread against one warm `WorkerPool`.

    server.py        build_server() and serve(args)
    handlers.py      every LSP method, registered in one place, each a few lines
    state.py         TritonizeServer: the shared state and its public API
    conversion.py    convert a class: actions, run, diagnostics, edit
    verification.py  tritonize.verifyCandidate
    reports.py       hover and tritonize.showReport (read the store)
    features.py      pure translations of tritonize data into LSP types
    capabilities.py  ClientSupport: what the client can do
    documents.py     per-document caches and class diagnostics
    jobs.py          waiting on and cancelling runner jobs
    convert_job.py   ConversionRunner: jobs in threads on the shared pool
    verify_command.py, settings.py, logs.py
"""
