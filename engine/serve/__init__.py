"""The warm engine service (`python -m engine serve`): models stay loaded between takes.

paths (where things live and what may be read), auth (the token), pipelines (loaded
backends, least recently used evicted), jobs (the queue, its records and events), app
(the HTTP routes) and server (binding and starting it).
"""
