"""What crosses between the server process and a verify worker: shared by both sides.

protocol.py  framing (length-prefixed JSON on a dedicated pipe pair; never pickle)
messages.py  the typed messages (jobs, their options and payloads, hello/ready/stage/result,
             DeviceInfo, ProbeResult), each with a JSON round trip

Standard library only (plus the plain data modules report.py and candidate.py): importing wire/ must
never pull torch into the server, or server code into the worker. Anyone may import it.
"""
