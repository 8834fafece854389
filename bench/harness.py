"""What the bench drivers share: ports, servers started and stopped by PID, wrk runs."""

import os
import re
import signal
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=30, proc=None, log=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"the server for port {port} exited with {proc.returncode}:\n{open(log).read() if log else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port} after {seconds}s")


class ChartHall:
    def __init__(self, binary, root, cpus, env):
        self.port = free_port()
        self.log_path = os.path.join(root, f"charthall-{self.port}.log")
        self.log = open(self.log_path, "w")
        full = {"PATH": os.environ["PATH"], "PORT": str(self.port), "LISTEN_HOST": "127.0.0.1",
                "STORAGE_LOCAL_ROOTDIR": os.path.join(root, f"data-{self.port}"), **env}
        self.proc = subprocess.Popen(["taskset", "-c", cpus, binary], env=full, stdout=self.log, stderr=self.log)
        wait_port(self.port, 60, self.proc, self.log_path)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wrk(url, seconds, cpus, headers=()):
    """wrk -t2 -c100 on `cpus` against `url`; returns requests per second."""
    args = ["taskset", "-c", cpus, "wrk", "-t2", "-c100", f"-d{seconds}s", "--timeout", "30s"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run(args + [url], capture_output=True, text=True).stdout
    match = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not match:
        sys.exit(f"wrk printed no rate:\n{out}")
    return float(match.group(1))


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
