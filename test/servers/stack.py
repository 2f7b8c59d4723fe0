#!/usr/bin/env python3
"""Start the account stack of the tests together: FxA + tokenserver + Sync 1.5 storage node(s).

    stack.py up    --out FILE [--dir DIR] [--nodes N] [--secret S] [--exit-on-eof]
                   [--storage-arg=ARG ...] [--tokenserver-arg=ARG ...] [--fxa-arg=ARG ...]
    stack.py start --out FILE [same options]   like up, but returns once the stack is ready
                                               and leaves it running in the background
    stack.py stop  FILE                        stop a stack started with `start`

Every server listens on 127.0.0.1 on a free port. When all are up, FILE (written atomically)
holds:

    {"fxa_url", "tokenserver_url", "token_endpoint" (tokenserver_url + "/1.0/sync/1.5"),
     "storage_urls": [node URL, ...], "secret" (tokenlib master secret of tokenserver and
     nodes), "jwks" (the FxA key file), "dir", "pid" (the supervising process), "pids": {...},
     "logs": {...}}

and `up` prints "READY <FILE>". The tokenserver hands out storage_urls[0]; node reassignment is
POST <tokenserver_url>/__testing__/config {"node": storage_urls[1]} (start with --nodes 2).
`up` stops everything on SIGTERM/SIGINT, or when stdin closes with --exit-on-eof; a server
that dies stops the rest. Logs go to DIR (default: a new temp dir, removed at the end unless
DIR was given).

From Python: `with Stack(nodes=2) as s: s.info["storage_urls"]`.
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _spawn(name, argv, logdir):
    log = open(os.path.join(logdir, name + ".log"), "wb")
    p = subprocess.Popen([sys.executable] + argv, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=log)
    log.close()
    line = p.stdout.readline().decode("ascii", "replace").strip()
    if not line.startswith("PORT "):
        p.kill()
        p.wait()
        raise RuntimeError("%s did not start (see %s.log): %r" % (name, name, line))
    return p, int(line.split()[1])


class Stack:
    def __init__(self, nodes=1, secret=None, workdir=None, storage_args=(),
                 tokenserver_args=(), fxa_args=()):
        self.nodes = nodes
        self.secret = secret or "stack-" + secrets.token_hex(16)
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="ds-stack-")
        os.makedirs(self.dir, exist_ok=True)
        self.storage_args = list(storage_args)
        self.tokenserver_args = list(tokenserver_args)
        self.fxa_args = list(fxa_args)
        self.procs = {}
        self.info = None

    def start(self):
        try:
            jwks = os.path.join(self.dir, "jwks.json")
            fxa, fxa_port = _spawn("fxa", [os.path.join(HERE, "fxa", "server.py"),
                                           "--jwks-out", jwks, "--watch-stdin"]
                                   + self.fxa_args, self.dir)
            self.procs["fxa"] = fxa
            urls = []
            for i in range(self.nodes):
                name = "storage%d" % i
                p, port = _spawn(name, [os.path.join(HERE, "syncstorage", "server.py"),
                                        "--secret", self.secret, "--exit-on-eof"]
                                 + self.storage_args, self.dir)
                self.procs[name] = p
                urls.append("http://127.0.0.1:%d" % port)
            ts, ts_port = _spawn("tokenserver",
                                 [os.path.join(HERE, "tokenserver", "server.py"),
                                  "--jwks", jwks, "--node", urls[0], "--secret", self.secret,
                                  "--exit-on-eof"] + self.tokenserver_args, self.dir)
            self.procs["tokenserver"] = ts
        except BaseException:
            self.stop()
            raise
        ts_url = "http://127.0.0.1:%d" % ts_port
        self.info = {
            "fxa_url": "http://127.0.0.1:%d" % fxa_port, "tokenserver_url": ts_url,
            "token_endpoint": ts_url + "/1.0/sync/1.5", "storage_urls": urls,
            "secret": self.secret, "jwks": jwks, "dir": self.dir, "pid": os.getpid(),
            "pids": {k: p.pid for k, p in self.procs.items()},
            "logs": {k: os.path.join(self.dir, k + ".log") for k in self.procs},
        }
        return self.info

    def dead(self):
        """Name of a server that exited, or None."""
        for k, p in self.procs.items():
            if p.poll() is not None:
                return k
        return None

    def stop(self):
        for p in self.procs.values():
            try:
                p.stdin.close()      # --exit-on-eof / --watch-stdin: a clean exit
            except OSError:
                pass
        deadline = time.time() + 5
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.terminate()
                try:
                    p.wait(2)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            p.stdout.close()
        self.procs = {}
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def _up(args, ready_fd=None):
    stack = Stack(nodes=args.nodes, secret=args.secret, workdir=args.dir,
                  storage_args=args.storage_arg, tokenserver_args=args.tokenserver_arg,
                  fxa_args=args.fxa_arg)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    try:
        info = stack.start()
    except Exception as e:
        print("stack: %s" % e, file=sys.stderr)
        return 1
    _write_json(args.out, info)
    if ready_fd is not None:
        os.write(ready_fd, b"R")
        os.close(ready_fd)
    else:
        print("READY %s" % args.out, flush=True)
    rc = 0
    try:
        if args.exit_on_eof:
            import threading
            t = threading.Thread(target=lambda: (sys.stdin.read(), stopping.append(1)),
                                 daemon=True)
            t.start()
        while not stopping:
            name = stack.dead()
            if name:
                print("stack: %s exited (see %s)" % (name, info["logs"][name]), file=sys.stderr)
                rc = 1
                break
            time.sleep(0.1)
    finally:
        stack.stop()
        try:
            os.unlink(args.out)
        except OSError:
            pass
    return rc


def _start(args):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1):
            os.dup2(devnull, fd)
        args.exit_on_eof = False
        rc = 1
        try:
            rc = _up(args, ready_fd=w)
        finally:
            os._exit(rc)
    os.close(w)
    ok = os.read(r, 1) == b"R"
    os.close(r)
    if not ok:
        os.waitpid(pid, 0)
        print("stack: did not start", file=sys.stderr)
        return 1
    print("READY %s" % args.out, flush=True)
    return 0


def _stop(path):
    with open(path, encoding="utf-8") as f:
        pid = json.load(f)["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return 0
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 0
        time.sleep(0.1)
    print("stack: pid %d still running" % pid, file=sys.stderr)
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("up", "start"):
        p = sub.add_parser(name)
        p.add_argument("--out", required=True, help="write the stack's JSON here")
        p.add_argument("--dir", default=None, help="logs and key files (kept)")
        p.add_argument("--nodes", type=int, default=1)
        p.add_argument("--secret", default=None)
        p.add_argument("--exit-on-eof", action="store_true")
        p.add_argument("--storage-arg", action="append", default=[])
        p.add_argument("--tokenserver-arg", action="append", default=[])
        p.add_argument("--fxa-arg", action="append", default=[])
    p = sub.add_parser("stop")
    p.add_argument("file")
    args = ap.parse_args()
    if args.cmd == "up":
        return _up(args)
    if args.cmd == "start":
        return _start(args)
    return _stop(args.file)


if __name__ == "__main__":
    sys.exit(main())
