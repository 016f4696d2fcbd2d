#!/usr/bin/env python3
"""Closed-loop load generator for idp (and for a peer provider driven the same way).

    .venv/bin/python bench/run.py [--url http://127.0.0.1:8000] [--scenario all]
        [--concurrency 8] [--duration 20] [--warmup 3] [--json bench/results/out.json]

Scenarios (each: warm-up first, excluded from the numbers, then the measured window):

  client_credentials  POST /token grant_type=client_credentials with HTTP Basic; one op = one
                      token. Pure CPU on the server (cached client, JWT signing), no database.
  code_flow_login     a whole authorization code flow with a password login: fresh cookie jar,
                      GET /authorize -> login page -> POST login -> code -> POST /token.
                      argon2id verification dominates.
  code_flow_sso       the same flow with an existing SSO session (one login per worker before
                      measuring): GET /authorize -> code at once -> POST /token.

Before measuring, the client and the person are created with the ``idp`` CLI, which must see
the same environment as the server (IDP_DATABASE_URL, IDP_VAR_DIR or IDP_KEY_ENCRYPTION_KEY).
Give --client-id/--client-secret/--login/--password instead to skip that (e.g. for a peer).

Every load is bounded: --duration is capped at 120 s, --warmup at 30 s, --max-ops caps the
operations per scenario, and only loopback URLs are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import functools
import hashlib
import ipaddress
import json
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

MAX_DURATION = 120.0
MAX_WARMUP = 30.0
MAX_CONCURRENCY = 256
DEFAULT_MAX_OPS = 200_000
REQUEST_TIMEOUT = 30.0
STOP_GRACE = 10.0  # seconds given to in-flight operations after the window closes
ERROR_BACKOFF = 0.05  # a failing worker pauses, so a dead server is not hammered in a hot loop
REDIRECT_URI = "http://127.0.0.1:9/cb"  # registered, never followed
SCENARIOS = ("client_credentials", "code_flow_login", "code_flow_sso")


class Failure(Exception):
    """An operation that did not end as it should (counted as an error)."""


# --- setup -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    login: str
    password: str
    created: bool


def _idp_command(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(sys.executable).with_name("idp")
    if beside.exists():
        return str(beside)
    found = shutil.which("idp")
    if not found:
        sys.exit("run.py: cannot find the `idp` command; pass --idp PATH")
    return found


def _run_cli(cmd: list[str]) -> dict[str, Any]:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        sys.exit(f"run.py: timed out: {' '.join(cmd[:3])}")
    if done.returncode != 0:
        sys.exit(f"run.py: {' '.join(cmd[1:3])} failed ({done.returncode}): {done.stderr.strip()}")
    try:
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        sys.exit(f"run.py: {' '.join(cmd[1:3])} printed no JSON: {done.stdout!r}")
    return result


def create_fixtures(idp: str) -> Credentials:
    """A confidential client (all three grants, no consent) and a simplified-level person."""
    tag = secrets.token_hex(4)
    client = _run_cli(
        [
            idp, "clients", "create",
            "--name", f"bench {tag}",
            "--redirect-uri", REDIRECT_URI,
            "--grant-type", "client_credentials",
            "--grant-type", "authorization_code",
            "--grant-type", "refresh_token",
            "--no-consent",
            "--json",
        ]
    )  # fmt: skip
    # +7999 and seven random digits: unique enough for repeated runs against one database.
    phone = "+7999" + "".join(secrets.choice("0123456789") for _ in range(7))
    password = f"Bq{secrets.token_hex(8)}7Z"  # upper, lower, digit; no name or contact in it
    _run_cli(
        [
            idp, "accounts", "create",
            "--first-name", "Ivan",
            "--last-name", "Petrov",
            "--phone", phone,
            "--password", password,
            "--level", "simplified",
            "--json",
        ]
    )  # fmt: skip
    return Credentials(client["client_id"], client["client_secret"], phone, password, True)


# --- the protocol steps ------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """The first ``<form method="post">``: its action and its hidden inputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post" and not self._in_form:
            self._in_form = True
            self.action = a.get("action", "")
        elif (
            tag == "input"
            and self._in_form
            and a.get("type", "").lower() == "hidden"
            and a.get("name")
        ):
            self.hidden[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def parse_login_form(page: str) -> tuple[str, dict[str, str]]:
    parser = _FormParser()
    parser.feed(page)
    if parser.action is None:
        raise Failure("the page has no POST form")
    return parser.action, parser.hidden


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class Window:
    """The measured interval; samples that complete outside it are dropped."""

    start: float = float("inf")
    end: float = float("inf")

    def has(self, t: float) -> bool:
        return self.start <= t <= self.end


@dataclass
class Recorder:
    window: Window
    ops: list[float] = field(default_factory=list)  # latency (s) of ops completed in the window
    errors: Counter[str] = field(default_factory=Counter)
    steps: dict[str, list[float]] = field(default_factory=dict)

    def step(self, label: str, started: float) -> None:
        now = time.perf_counter()
        if self.window.has(now):
            self.steps.setdefault(label, []).append(now - started)


class RawConnection:
    """One keep-alive HTTP/1.1 connection that sends a prepared request: a load generator that
    costs far less CPU per request than httpx, so on a small machine the client_credentials
    numbers measure the server rather than the client (see --httpx-cc)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        try:
            return await asyncio.wait_for(self._exchange(request), REQUEST_TIMEOUT)
        except BaseException:
            await self.close()  # never reuse a connection in an unknown state
            raise

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        reused = self.writer is not None
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(request)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
            partial = getattr(exc, "partial", b"")
            if not reused or partial:
                raise
            # The server closed an idle keep-alive connection: reconnect and send once more.
            await self.close()
            return await self._exchange(request)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size + 2))
            await self.reader.readuntil(b"\r\n")
            body = b"".join(p[:-2] for p in parts)
        else:
            raise Failure("response without length")
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body


class Target:
    def __init__(self, base_url: str, creds: Credentials, scope: str, rec: Recorder) -> None:
        self.base_url = base_url.rstrip("/")
        self.creds = creds
        self.scope = scope
        self.rec = rec
        self.auth_header = _basic(creds.client_id, creds.client_secret)

    def client(self, concurrency: int) -> httpx.AsyncClient:
        limits = httpx.Limits(
            max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4
        )
        # trust_env=False: never route loopback traffic through a proxy from the environment.
        return httpx.AsyncClient(
            base_url=self.base_url,
            follow_redirects=False,
            timeout=REQUEST_TIMEOUT,
            limits=limits,
            trust_env=False,
        )

    async def _request(
        self, http: httpx.AsyncClient, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        path = urlsplit(url).path or "/"
        label = f"{method} /{path.lstrip('/').split('/')[0]}"
        started = time.perf_counter()
        response = await http.request(method, url, **kwargs)
        self.rec.step(label, started)
        return response

    # (a) client_credentials
    async def client_credentials(self, rp: httpx.AsyncClient) -> None:
        response = await self._request(
            rp,
            "POST",
            "/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": self.auth_header},
        )
        if response.status_code != 200 or "access_token" not in response.json():
            raise Failure(f"token {response.status_code}: {response.text[:120]}")

    def raw_client_credentials_request(self) -> bytes:
        parts = urlsplit(self.base_url)
        body = b"grant_type=client_credentials"
        return (
            f"POST {parts.path.rstrip('/')}/token HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\n"
            f"Authorization: {self.auth_header}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "Accept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def raw_client_credentials(self, conn: RawConnection, request: bytes) -> None:
        started = time.perf_counter()
        status, body = await conn.exchange(request)
        self.rec.step("POST /token", started)
        if status != 200 or b'"access_token"' not in body:
            raise Failure(f"token {status}: {body[:120]!r}")

    # (b), (c) the code flow
    async def authorize_to_code(
        self, browser: httpx.AsyncClient, *, may_log_in: bool
    ) -> tuple[str, str]:
        """Walk from /authorize to the redirect URI; log in on the first form if allowed."""
        verifier = secrets.token_urlsafe(48)
        params = {
            "response_type": "code",
            "client_id": self.creds.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": self.scope,
            "state": secrets.token_urlsafe(12),
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
        response = await self._request(browser, "GET", "/authorize", params=params)
        logged_in = False
        for _ in range(12):
            status = response.status_code
            if status in (302, 303):
                location = response.headers["location"]
                if location.startswith(REDIRECT_URI):
                    query = parse_qs(urlsplit(location).query)
                    if "code" not in query:
                        raise Failure(f"no code: error={query.get('error', ['?'])[0]}")
                    if query.get("state", [None])[0] != params["state"]:
                        raise Failure("state mismatch")
                    return query["code"][0], verifier
                response = await self._request(browser, "GET", urljoin(str(response.url), location))
            elif status == 200 and may_log_in and not logged_in:
                action, hidden = parse_login_form(response.text)
                form = {**hidden, "login": self.creds.login, "password": self.creds.password}
                response = await self._request(
                    browser, "POST", urljoin(str(response.url), action), data=form
                )
                logged_in = True
            else:
                where = urlsplit(str(response.url)).path
                raise Failure(f"unexpected {status} at {where}: {response.text[:80]!r}")
        raise Failure("too many redirects")

    async def redeem(self, rp: httpx.AsyncClient, code: str, verifier: str) -> None:
        response = await self._request(
            rp,
            "POST",
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            headers={"Authorization": self.auth_header},
        )
        if response.status_code != 200:
            raise Failure(f"token {response.status_code}: {response.text[:120]}")
        body = response.json()
        if "access_token" not in body or (
            "openid" in self.scope.split() and "id_token" not in body
        ):
            raise Failure("token response without access_token/id_token")


# --- the load loop -----------------------------------------------------------------------------

Op = Callable[[], Awaitable[None]]


@dataclass
class LoopState:
    max_ops: int
    started: int = 0  # operations started in the measured window
    counting: bool = False
    stopping: bool = False
    cap_reached: asyncio.Event = field(default_factory=asyncio.Event)


# What a failed operation may raise; anything else is a bug in this script and stops it.
OP_ERRORS = (
    Failure,
    httpx.HTTPError,
    OSError,
    EOFError,
    asyncio.LimitOverrunError,
    ValueError,
    KeyError,
)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, Failure):
        return str(exc)[:100]
    return f"{type(exc).__name__}: {str(exc)[:80]}"


async def _worker(op: Op, state: LoopState, rec: Recorder) -> None:
    while not state.stopping:
        if state.counting:
            if state.started >= state.max_ops:
                state.cap_reached.set()
                return
            state.started += 1
        began = time.perf_counter()
        try:
            await op()
        except asyncio.CancelledError:
            raise
        except OP_ERRORS as exc:
            if rec.window.has(time.perf_counter()):
                rec.errors[_describe(exc)] += 1
            await asyncio.sleep(ERROR_BACKOFF)
            continue
        ended = time.perf_counter()
        if rec.window.has(ended):
            rec.ops.append(ended - began)


def _cpu_ticks_of_tree(root: int) -> int:
    """CPU clock ticks of a process and all its descendants, live or reaped.

    utime + stime of every live member, plus cutime + cstime (children already waited for), so
    a child that exits inside the window is still counted, once, at its parent.
    """
    stats: dict[int, tuple[int, int]] = {}  # pid -> (ppid, ticks)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                raw = handle.read()
        except OSError:
            continue
        # After "pid (comm) ": state ppid pgrp ...; utime, stime, cutime, cstime are the
        # 14th to 17th fields of the whole line (1-based), i.e. [11:15] here.
        fields = raw[raw.rfind(")") + 2 :].split()
        stats[int(entry.name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo.extend(children.get(pid, []))
    return total


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_scenario(
    name: str, target: Target, args: argparse.Namespace, watch: dict[str, int]
) -> dict[str, Any]:
    rec = target.rec
    rec.window = Window()
    rec.ops, rec.errors, rec.steps = [], Counter(), {}
    state = LoopState(max_ops=args.max_ops)
    concurrency = args.concurrency
    rp = target.client(concurrency)
    browsers: list[httpx.AsyncClient] = []
    raw_conns: list[RawConnection] = []
    try:
        ops: list[Op] = []
        if name == "client_credentials" and args.httpx_cc:
            ops = [lambda: target.client_credentials(rp)] * concurrency
        elif name == "client_credentials":
            request = target.raw_client_credentials_request()
            parts = urlsplit(target.base_url)
            if parts.scheme != "http":
                sys.exit("run.py: the raw client_credentials client speaks plain http; --httpx-cc")
            for _ in range(concurrency):
                conn = RawConnection(parts.hostname or "127.0.0.1", parts.port or 80)
                raw_conns.append(conn)
                ops.append(functools.partial(target.raw_client_credentials, conn, request))
        elif name == "code_flow_login":
            for _ in range(concurrency):
                browser = target.client(1)
                browsers.append(browser)

                async def login_flow(browser: httpx.AsyncClient = browser) -> None:
                    browser.cookies.clear()  # a fresh cookie jar: no session, so a login
                    code, verifier = await target.authorize_to_code(browser, may_log_in=True)
                    await target.redeem(rp, code, verifier)

                ops.append(login_flow)
        else:  # code_flow_sso
            for _ in range(concurrency):
                browser = target.client(1)
                browsers.append(browser)
                # The one login per worker, before anything is measured.
                try:
                    code, verifier = await target.authorize_to_code(browser, may_log_in=True)
                    await target.redeem(rp, code, verifier)
                except OP_ERRORS as exc:
                    rec.errors[f"SSO set-up login: {_describe(exc)}"] += 1
                    continue

                async def sso_flow(browser: httpx.AsyncClient = browser) -> None:
                    code, verifier = await target.authorize_to_code(browser, may_log_in=False)
                    await target.redeem(rp, code, verifier)

                ops.append(sso_flow)

        tasks = [asyncio.create_task(_worker(op, state, rec)) for op in ops]
        await asyncio.sleep(args.warmup if ops else 0)
        ticks0 = {label: _cpu_ticks_of_tree(pid) for label, pid in watch.items()}
        cpu0 = _client_cpu()
        rec.window.start = time.perf_counter()
        state.counting = True  # --max-ops counts the operations of the measured window
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.cap_reached.wait(), timeout=args.duration if ops else 0)
        rec.window.end = time.perf_counter()
        cpu1 = _client_cpu()
        ticks1 = {label: _cpu_ticks_of_tree(pid) for label, pid in watch.items()}
        state.stopping = True
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for http in [rp, *browsers]:
            await http.aclose()
        for conn in raw_conns:
            await conn.close()

    window = max(rec.window.end - rec.window.start, 1e-6)
    n = len(rec.ops)
    hz = os.sysconf("SC_CLK_TCK")
    server_cpu = {}
    for label in watch:
        cpu_s = (ticks1[label] - ticks0[label]) / hz
        server_cpu[label] = {
            "cpu_s": round(cpu_s, 2),
            "cores_busy": round(cpu_s / window, 2),
            "cpu_ms_per_op": round(1000 * cpu_s / n, 2) if n else None,
        }
    return {
        "scenario": name,
        "unit": "tokens" if name == "client_credentials" else "flows",
        "concurrency": concurrency,
        "window_s": round(window, 2),
        "ops": n,
        "ops_per_s": round(n / window, 1) if window > 0 else 0.0,
        "errors": sum(rec.errors.values()),
        "error_kinds": dict(rec.errors.most_common(5)),
        "latency_ms": _summary(rec.ops),
        "steps_ms": {label: _summary(values) for label, values in sorted(rec.steps.items())},
        "client_cores_busy": round((cpu1 - cpu0) / window, 2) if window >= 0.5 else 0.0,
        "server_cpu": server_cpu,
    }


def _percentile(ordered: list[float], q: float) -> float:
    # Nearest rank.
    index = max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))
    return ordered[index]


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    ordered = sorted(values)
    ms = 1000.0
    return {
        "n": len(ordered),
        "p50": round(_percentile(ordered, 0.50) * ms, 2),
        "p95": round(_percentile(ordered, 0.95) * ms, 2),
        "p99": round(_percentile(ordered, 0.99) * ms, 2),
        "mean": round(sum(ordered) / len(ordered) * ms, 2),
        "max": round(ordered[-1] * ms, 2),
    }


# --- reporting ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return info


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def print_table(results: list[dict[str, Any]], label: str) -> None:
    print(f"\n{label}")
    header = f"{'scenario':<20}{'conc':>5}{'ops/s':>9}"
    header += f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        lat = r["latency_ms"]
        cells = [lat[k] if lat[k] is not None else float("nan") for k in ("p50", "p95", "p99")]
        print(
            f"{r['scenario']:<20}{r['concurrency']:>5}{r['ops_per_s']:>9.1f}"
            f"{cells[0]:>9.1f}{cells[1]:>9.1f}{cells[2]:>9.1f}{r['errors']:>8}"
        )
    for r in results:
        cpu = ", ".join(
            f"{k} {v['cores_busy']} cores ({v['cpu_ms_per_op']} ms CPU/op)"
            for k, v in r["server_cpu"].items()
        )
        steps = ", ".join(f"{k} p50 {v['p50']}" for k, v in r["steps_ms"].items())
        cpu = cpu or "server CPU not watched"
        print(f"  {r['scenario']}: client {r['client_cores_busy']} cores; {cpu}")
        print(f"    steps (ms): {steps}")
        for kind, count in r["error_kinds"].items():
            print(f"    error x{count}: {kind}")


# --- main --------------------------------------------------------------------------------------


def _loopback_only(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback:
        sys.exit(f"run.py: refusing {url!r}: only http(s) on a loopback address is allowed")
    return url.rstrip("/")


def _watched(value: str) -> tuple[str, int]:
    label, _, pid = value.partition("=")
    if not label or not pid.isdigit():
        raise argparse.ArgumentTypeError("expected NAME=PID")
    return label, int(pid)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    p.add_argument("--concurrency", type=int, default=8, help="workers (closed loop), default 8")
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds (max 120)")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first (max 30)")
    p.add_argument("--max-ops", type=int, default=DEFAULT_MAX_OPS, help="cap per scenario")
    p.add_argument("--scope", default="openid profile")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON here")
    p.add_argument(
        "--httpx-cc",
        action="store_true",
        help="client_credentials through httpx instead of the lean raw HTTP/1.1 client",
    )
    p.add_argument("--label", default=None, help="what is measured (goes into the report)")
    p.add_argument("--idp", help="the idp command (default: the one beside this python)")
    p.add_argument("--client-id")
    p.add_argument("--client-secret")
    p.add_argument("--login", help="phone of an existing person (skips `idp accounts create`)")
    p.add_argument("--password")
    p.add_argument(
        "--watch-pid", type=_watched, action="append", default=[], metavar="NAME=PID",
        help="report the CPU time of this process and its descendants (server, database)",
    )  # fmt: skip
    args = p.parse_args(argv)
    args.url = _loopback_only(args.url)
    if not 0 < args.duration <= MAX_DURATION:
        p.error(f"--duration must be in (0, {MAX_DURATION:g}]")
    if not 0 <= args.warmup <= MAX_WARMUP:
        p.error(f"--warmup must be in [0, {MAX_WARMUP:g}]")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        p.error(f"--concurrency must be in [1, {MAX_CONCURRENCY}]")
    if not 1 <= args.max_ops <= 10 * DEFAULT_MAX_OPS:
        p.error("--max-ops out of range")
    given = [args.client_id, args.client_secret, args.login, args.password]
    if any(given) and not all(given):
        p.error("--client-id, --client-secret, --login and --password go together")
    return args


async def amain(args: argparse.Namespace, creds: Credentials) -> dict[str, Any]:
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    target = Target(args.url, creds, args.scope, Recorder(Window()))
    watch = dict(args.watch_pid)
    label = args.label or args.url
    load_before = os.getloadavg()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results = []
    for name in names:
        print(
            f"{name}: warm-up {args.warmup:g} s, measuring {args.duration:g} s "
            f"at concurrency {args.concurrency} ...",
            flush=True,
        )
        results.append(await run_scenario(name, target, args, watch))
    load_after = os.getloadavg()
    print_table(results, label)
    print(
        f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"(on {os.cpu_count()} CPUs; much above the server's own use means a shared machine)"
    )
    return {
        "label": label,
        "url": args.url,
        "started_at": started_at,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "settings": {
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "max_ops": args.max_ops,
            "scope": args.scope,
            "fixtures_created_by_cli": creds.created,
        },
        "scenarios": results,
    }


def main() -> int:
    args = parse_args()
    if args.client_id:
        creds = Credentials(args.client_id, args.client_secret, args.login, args.password, False)
    else:
        creds = create_fixtures(_idp_command(args.idp))
    report = asyncio.run(amain(args, creds))
    report.update(git_commit=_git_commit(), machine=machine())
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"  wrote {path}")
    return 1 if any(r["ops"] == 0 for r in report["scenarios"]) else 0


if __name__ == "__main__":
    sys.exit(main())
