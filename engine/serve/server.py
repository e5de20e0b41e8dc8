"""Starting the service: folders, token, recovered jobs, then uvicorn on a socket bound here.

The socket is bound (and listening) before the one `serving` JSON line is printed, so a
caller that reads that line (the add-on, a test, --port 0 for any free port) can connect at once.
"""

import ipaddress
import json
import os
import socket
import sys

from .paths import WorkFolders, user_data_dir


def add_arguments(parser):
    data = user_data_dir()
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default loopback only; another address lets other machines in)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free one; the `serving` line says which)")
    parser.add_argument("--token-file", default=str(data / "token"), help=f"the token (default {data / 'token'})")
    parser.add_argument("--work-dir", default=str(data / "work"),
                        help=f"uploaded bundles, job records and takes (default {data / 'work'})")
    parser.add_argument("--shared-root", action="append", default=[], metavar="DIR",
                        help="a folder whose bundles jobs may name by path (repeatable)")
    parser.add_argument("--max-upload-mb", type=int, default=2048, help="largest bundle upload (default 2048)")
    parser.add_argument("--max-loaded", type=int, default=2, help="loaded backends kept warm at most (default 2)")
    parser.add_argument("--min-free-mb", type=int, default=2048,
                        help="evict warm backends before a load when free RAM or GPU memory is below this")


def _listening_socket(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run_serve(args):
    import uvicorn  # the service's own imports wait until it runs: `python -m engine check` stays light

    from .app import create_app
    from .auth import load_or_create_token
    from .jobs import JobQueue
    from .pipelines import LoadedBackends

    folders = WorkFolders(args.work_dir, args.shared_root)
    token = load_or_create_token(args.token_file)
    loaded = LoadedBackends(max_loaded=max(args.max_loaded, 1), min_free_mb=args.min_free_mb)
    jobs = JobQueue(folders, loaded)
    app = create_app(folders, jobs, loaded, token, args.max_upload_mb * 1024 * 1024)
    try:
        sock = _listening_socket(args.host, args.port)
    except OSError as exc:
        print(f"engine: error: cannot listen on {args.host}:{args.port} ({exc.strerror}): choose another --port",
              file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    if not _is_loopback(host):
        print(f"engine serve: warning: listening on {host}, reachable from other machines; anyone with the token "
              "can run jobs (prefer 127.0.0.1 behind an SSH tunnel)", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    print(json.dumps({"event": "serving", "url": f"http://{shown}:{port}", "token_file": str(args.token_file),
                      "work_dir": str(folders.root), "pid": os.getpid()}), flush=True)
    jobs.start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=3)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        jobs.stop()
    return 0
