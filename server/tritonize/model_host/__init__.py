"""The model host: everything here runs in the model host child process (`main.py`), never in the
server or CLI process. It imports torch, transformers or llama_cpp; the server talks to it only
through generate/host_client.py."""
