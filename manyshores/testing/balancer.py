"""A real HAProxy in front of `manyshores serve` replicas, for tests and benchmarks.

    with HAProxyBalancer({"r1": "127.0.0.1:8001", "r2": "127.0.0.1:8002"}, workdir) as lb:
        client = OpenAI(base_url=lb.url + "/v1", api_key=...)
        lb.states()                     # {"r1": "UP", "r2": "DOWN"}: what its health checks see

HAProxy (the Debian package `haproxy`; `.ci/run` installs it) sends requests round-robin to the
replicas whose `GET /healthz` answers 200, checked every `check_interval_ms`: a replica killed
or draining (503) is taken out after `fall` failed checks (a killed one at its first refused
connection) and put back after `rise` good ones. A request that cannot connect to a replica is
sent to another (`retry-on conn-failure`, safe: nothing reached the first). A replica that dies mid-request leaves that one request failed
with HAProxy's 502, which here carries an OpenAI error body saying what happened; the client
may send it again with the same request id to get the turn stored once.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from manyshores.testing.postgres import free_port
from manyshores.testing.processes import end_process

BACKEND = "replicas"

ERRORS = {
    502: (
        "Bad Gateway",
        "the replica serving this request stopped before answering; send it again with the "
        "same request id (metadata.request_id or Idempotency-Key) and the stored turn is "
        "answered, or it runs once",
    ),
    503: (
        "Service Unavailable",
        "no manyshores replica is available behind the load balancer; try again shortly",
    ),
    504: (
        "Gateway Timeout",
        "the replica did not answer in time behind the load balancer",
    ),
}


class BalancerUnavailable(RuntimeError):
    """HAProxy is not installed or did not start."""


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).is_file()), None
    )


def _errorfile(status: int, reason: str, message: str) -> str:
    import json

    body = json.dumps(
        {"error": {"message": message, "type": "service_unavailable", "param": None, "code": None}}
    )
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Cache-Control: no-cache\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
        f"\r\n{body}"
    )


@dataclass
class HAProxyBalancer:
    """An `haproxy -db` child process balancing `servers` (name -> host:port)."""

    servers: dict[str, str]
    """Replica name -> `host:port`."""
    workdir: Path
    """Where its configuration, error pages, admin socket and log go."""
    port: int = field(default_factory=free_port)
    """Port it listens on (127.0.0.1)."""
    check_interval_ms: int = 500
    """Time between two health checks of a replica."""
    fall: int = 2
    """Failed checks before a replica is taken out."""
    rise: int = 2
    """Passed checks before it is put back."""
    timeout_s: int = 3600
    """Longest wait for a replica's response (turns can take minutes under load)."""
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_path(self) -> Path:
        path = self.workdir / "haproxy.sock"
        # A Unix socket's path has at most 107 bytes.
        return path if len(str(path)) < 100 else Path(f"/tmp/manyshores-haproxy-{self.port}.sock")

    def config_text(self) -> str:
        errors = "".join(
            f"    errorfile {status} {self.workdir / f'{status}.http'}\n" for status in ERRORS
        )
        servers = "".join(
            f"    server {name} {address} check\n" for name, address in self.servers.items()
        )
        return (
            "global\n"
            f"    stats socket {self.socket_path} mode 600 level admin\n"
            "    maxconn 2048\n"
            # One line per request in haproxy.log: which replica, status, termination state.
            "    log stdout format raw local0\n"
            "defaults\n"
            "    mode http\n"
            "    log global\n"
            "    option httplog\n"
            "    timeout connect 2s\n"
            f"    timeout client {self.timeout_s}s\n"
            f"    timeout server {self.timeout_s}s\n"
            "    timeout http-request 30s\n"
            # A replica busy with a turn can be slow to answer /healthz (its model thread
            # holds the interpreter): only silence this long fails a check. A dead replica
            # refuses the connection at once, which takes it out without waiting.
            "    timeout check 5s\n"
            # One server connection per request: a replica that exits never leaves a pooled
            # connection for the next request to fail on.
            "    option http-server-close\n"
            "    retries 3\n"
            "    option redispatch 1\n"
            "    retry-on conn-failure\n"
            f"{errors}"
            "frontend api\n"
            f"    bind 127.0.0.1:{self.port}\n"
            f"    default_backend {BACKEND}\n"
            f"backend {BACKEND}\n"
            "    balance roundrobin\n"
            "    option httpchk GET /healthz\n"
            "    http-check expect status 200\n"
            # A refused connection takes the replica out at once (the health checks put it back
            # when it answers again): a killed replica gets no more requests meanwhile.
            f"    default-server inter {self.check_interval_ms}ms fall {self.fall} "
            f"rise {self.rise} observe layer4 error-limit 1 on-error mark-down\n"
            f"{servers}"
        )

    def start(self) -> HAProxyBalancer:
        binary = haproxy_binary()
        if binary is None:
            raise BalancerUnavailable(
                "haproxy is not installed: apt-get install haproxy (`.ci/run` does)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        for status, (reason, message) in ERRORS.items():
            (self.workdir / f"{status}.http").write_text(_errorfile(status, reason, message))
        config = self.workdir / "haproxy.cfg"
        config.write_text(self.config_text())
        check = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise BalancerUnavailable(f"haproxy refused its configuration: {check.stderr[-800:]}")
        log = (self.workdir / "haproxy.log").open("wb")
        self._proc = subprocess.Popen(
            [binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BalancerUnavailable(
                    f"haproxy exited with {self._proc.returncode}: "
                    f"{(self.workdir / 'haproxy.log').read_text(errors='replace')[-800:]}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return self
            time.sleep(0.05)
        self.stop()
        raise BalancerUnavailable("haproxy did not listen within 30 s")

    def command(self, line: str) -> str:
        """One command on HAProxy's admin socket (`show stat`, `disable server ...`)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.socket_path))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def states(self) -> dict[str, str]:
        """Each replica's state as the health checks see it (`UP`, `DOWN`, `MAINT`, ...)."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == BACKEND and row.get("svname") in self.servers:
                out[row["svname"]] = row["status"].split(" ")[0]
        return out

    def wait_state(self, name: str, state: str, timeout_s: float = 30.0) -> None:
        """Wait until replica `name` is in `state` (e.g. after its process started or died)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.states().get(name) == state:
                return
            time.sleep(0.1)
        raise TimeoutError(f"replica {name} is {self.states().get(name)}, not {state}")

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Put a replica in or out of rotation by hand (`enable`/`disable server`)."""
        verb = "enable" if enabled else "disable"
        self.command(f"{verb} server {BACKEND}/{name}")

    def stop(self) -> None:
        if self._proc is None:
            return
        end_process(self._proc)
        self._proc = None

    def __enter__(self) -> HAProxyBalancer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
