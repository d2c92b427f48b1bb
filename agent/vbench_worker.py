#!/usr/bin/env python3
"""vbench worker agent: runs `vllm bench serve` points in-process, through vLLM's own code.

Why
---
A new `vllm bench serve` process spends most of each sweep point importing vLLM (about 9 s on a
small CPU, 3-10 s on GPU hosts), paid once per point. This worker imports vLLM's benchmark module
ONCE, then for each point parses the point's argv with vLLM's own CLI parser and calls vLLM's own
entry point, so the same code writes the same result file, minus the import. vbench copies this file
into the client container and keeps one long-lived exec open on it (a persistent channel), speaking
the line protocol below on stdin/stdout. A POSIX-sh agent speaks the same protocol and runs each
point as a new process (`client_mode: process`); this one is `client_mode: worker`.

Protocol v1
-----------
Host -> agent (stdin, lines ending in `\\n`):

    RUN <id>        start a request (<id>: decimal)
    A <arg>         one argv element, in order (repeatable); escaped
    E <KEY=VALUE>   optional, repeatable: environment additions for this request only; escaped
    R <path>        optional: a file to send back after the command ends; escaped
    GO              run it
    QUIT            exit 0 (so does end of input)

Escaping: every byte outside [A-Za-z0-9_./:=,+@%-] is written `\\0ooo` (backslash, `0`, three octal
digits), as POSIX `printf '%b'` decodes it. Values are decoded to bytes, then to str as UTF-8 with
surrogateescape. A backslash not followed by `0` and three octal digits is an error.

Agent -> host (stdout, binary-safe):

    HELLO vbench-agent 1 worker vllm=<version>   once, after vLLM's benchmark module imported
    FAIL <text>                                  instead of HELLO when the import fails; exit 3
    S <id> <pid>                                 request started (pid: this worker's own pid)
    L <id> <text>                                one console line of the benchmark (stdout and
                                                 stderr merged; split on `\\n` only, `\\r` kept)
    X <id> <code>                                the benchmark finished: 0 ok, the SystemExit
                                                 code, 1 on an exception (traceback sent as L
                                                 lines first), 130 on KeyboardInterrupt (SIGINT
                                                 to the pid of `S` cancels the running point)
    F <id> <size>\\n<size bytes>\\n               the R file's bytes, if R was given and exists
    N <id>                                       R was given and no such file exists
    D <id>                                       request complete; ready for the next
    ERR <id> <text>                              a malformed request; followed by D <id>

One ERR per malformed request, sent when its GO (or the next RUN/QUIT) arrives. A line that
belongs to no request (GO/A/E/R without RUN, an unknown command, a bad RUN id) gets `ERR 0 …` and
`D 0`: id 0 is reserved for errors outside a request (hosts number requests from 1).
A line longer than 64 KiB is sent as several L frames.

How a point runs (what makes it the same as `vllm bench serve` as a process)
----------------------------------------------------------------------------
- argv must be `vllm bench serve ...` (argv[0] named `vllm`); the worker builds, per point, the
  same parser tree the `vllm` console script builds (`vllm.entrypoints.cli.main.main`): a
  FlexibleArgumentParser "vLLM CLI" -> subcommand `bench` (`BenchmarkSubcommand`) -> `serve`
  (`BenchmarkServingSubcommand.add_cli_args` = `vllm.benchmarks.serve.add_cli_args`), parses
  `["bench", "serve", ...]` with it, calls `configure_logging_from_args(args)` and the command's
  `validate(args)`, then `args.dispatch_function(args)` = `BenchmarkServingSubcommand.cmd` =
  `vllm.benchmarks.serve.main(args)` = `asyncio.run(main_async(args))` (a new event loop per point).
  A fresh parser per point: argparse defaults computed when the parser is built (the random
  `--request-id-prefix`) are new for each point, and no default object is shared between points.
- Seeding: `main_async` itself seeds `random` and `numpy.random` with `--seed`, and the datasets
  use their own RNGs seeded from `--seed`, so nothing needs re-seeding; the worker does not touch
  the RNGs.
- Per point, restored afterwards: `os.environ` (E additions and anything the point changed),
  `sys.argv` (the point's argv while it runs, as in a process), the working directory, the
  `warnings` filters (and "shown once" registries), vLLM's `*_once` log caches, vLLM's env cache.
- GC: `main_async` freezes the GC heap (`gc.freeze()`) before each benchmark, as in a process,
  so whatever a point had alive then (its event loop, sessions, tokenizer: ~0.4 MB a point with
  a tiny tokenizer, far more with a real one) is never collected if it sits in a reference cycle.
  The worker freezes its own heap once after start-up, and between points, once its RSS grew by
  VBENCH_WORKER_GC_COMPACT_MB (default 256) MiB since the last time, it unfreezes, collects and
  re-freezes (a full collection: ~0.5-1 s on a small CPU; 0 disables it).
  VBENCH_WORKER_DEBUG=1 reports per point, on the worker's stderr, the time spent parsing,
  running and answering, the RSS growth and the frozen object count.
- Known difference: variables that vLLM or its libraries read only at import time (e.g.
  VLLM_LOGGING_LEVEL's handler setup, HF_HUB_OFFLINE) keep the value the worker started with; an
  `E` addition changes them only for code that reads os.environ at run time. Pass such variables
  in the worker's own environment. VLLM_USE_RUST_BENCH=1 (which makes the CLI exec a Rust
  binary) is refused with ERR: use the process agent for it.

Output plumbing: protocol frames go to a private dup of the original stdout, under a lock.
fds 1 and 2 are redirected (dup2) into a pipe drained by a thread that turns each line into an
L frame of the running request, so anything printed -- print(), logging handlers holding
sys.stdout/sys.stderr since import, C-level writes, child processes -- becomes L lines and can
never corrupt the protocol. Output while no request runs (vLLM's import chatter, stray threads)
goes to the worker's original stderr. Before X, Python's and C's stdio buffers are flushed and a
sync marker is passed through the pipe, so every line of a point precedes its X frame.

Stdlib only besides vLLM.
"""

import gc
import importlib
import os
import signal
import sys
import threading
import time
import traceback
import warnings

PROTOCOL_VERSION = 1
MAX_LINE = 64 * 1024
GC_COMPACT_MB = 256
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=,+@%-")


class ProtocolError(Exception):
    pass


def decode_value(raw: bytes) -> bytes:
    """Undo the `\\0ooo` escaping (bytes in, bytes out)."""
    if b"\\" not in raw:
        return raw
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        b = raw[i]
        if b != 0x5C:  # backslash
            out.append(b)
            i += 1
            continue
        esc = raw[i + 1 : i + 5]
        if len(esc) != 4 or esc[0:1] != b"0" or any(c not in b"01234567" for c in esc[1:]):
            raise ProtocolError("bad escape %r (expected \\0ooo)" % raw[i : i + 5].decode("latin-1"))
        value = int(esc[1:], 8)
        if value > 255:
            raise ProtocolError("bad escape %r (byte out of range)" % raw[i : i + 5].decode("latin-1"))
        out.append(value)
        i += 5
    return bytes(out)


def encode_value(value: bytes) -> bytes:
    """The escaping the host applies (kept here for tests and symmetry)."""
    return b"".join(bytes([c]) if c in _SAFE else b"\\0%03o" % c for c in value)


def to_str(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class Channel:
    """Protocol frames on a private dup of the original stdout, one writer at a time."""

    def __init__(self, fd: int):
        self.fd = fd
        self.lock = threading.Lock()

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def frame(self, *parts: bytes) -> None:
        with self.lock:
            self._write_all(b"".join(parts))

    def text(self, line: str) -> None:
        self.frame(line.encode("utf-8", "backslashreplace") + b"\n")


class OutputPump(threading.Thread):
    """Drains the pipe that fds 1 and 2 point to; each line becomes an L frame of the running
    request (or goes to the original stderr when none runs)."""

    def __init__(self, read_fd: int, channel: Channel, stray_fd: int):
        super().__init__(name="vbench-output-pump", daemon=True)
        self.read_fd = read_fd
        self.channel = channel
        self.stray_fd = stray_fd
        self.state_lock = threading.Lock()
        self.current_id = None  # type: int | None
        self.sync_token = b"\x00vbench-sync-" + os.urandom(8).hex().encode() + b"-"
        self.sync_seen = threading.Condition(self.state_lock)
        self.last_sync = -1

    def set_request(self, rid):
        with self.state_lock:
            self.current_id = rid

    def _emit(self, line: bytes) -> None:
        # Written under state_lock: once set_request(None) returns, no L frame of the finished
        # request can still be on its way (so none can follow its X frame).
        with self.state_lock:
            if self.current_id is not None:
                self.channel.frame(b"L %d " % self.current_id, line, b"\n")
                return
        try:
            os.write(self.stray_fd, line + b"\n")
        except OSError:
            pass

    def _line(self, line: bytes) -> None:
        at = line.find(self.sync_token)
        if at < 0:
            self._emit(line)
            return
        if at > 0:  # a partial line (no newline yet) precedes the marker: it ends with the point
            self._emit(line[:at])
        seq = int(line[at + len(self.sync_token) :].rstrip(b"\x00") or b"-1")
        with self.state_lock:
            self.last_sync = max(self.last_sync, seq)
            self.sync_seen.notify_all()

    def run(self) -> None:
        buf = b""
        keep = len(self.sync_token) + 24
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except InterruptedError:
                continue
            if not chunk:
                break
            buf += chunk
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    break
                line, buf = buf[:nl], buf[nl + 1 :]
                while len(line) > MAX_LINE and self.sync_token not in line:
                    self._emit(line[:MAX_LINE])
                    line = line[MAX_LINE:]
                self._line(line)
            while len(buf) > MAX_LINE + keep and self.sync_token not in buf:
                self._emit(buf[:MAX_LINE])
                buf = buf[MAX_LINE:]
        if buf:
            self._emit(buf)

    def sync(self, seq: int, timeout: float = 30.0) -> bool:
        """Wait until everything written to fds 1/2 so far has been turned into frames."""
        os.write(1, self.sync_token + b"%d\x00\n" % seq)
        with self.state_lock:
            return self.sync_seen.wait_for(lambda: self.last_sync >= seq, timeout)


_LIBC = []


def flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
    try:  # C-level stdio buffers (extensions printing with printf)
        if not _LIBC:
            import ctypes

            _LIBC.append(ctypes.CDLL(None))
        _LIBC[0].fflush(None)
    except Exception:
        pass


class Request:
    def __init__(self, rid: int):
        self.rid = rid
        self.argv = []  # type: list[str]
        self.env = []  # type: list[tuple[str, str]]
        self.result_path = None  # type: str | None
        self.error = None  # type: str | None

    def fail(self, text: str) -> None:
        if self.error is None:
            self.error = text


class Worker:
    def __init__(self, channel: Channel, pump: OutputPump):
        self.channel = channel
        self.pump = pump
        self.seq = 0
        self.vllm_version = "unknown"
        self.compact_bytes = int(os.environ.get("VBENCH_WORKER_GC_COMPACT_MB", GC_COMPACT_MB)) << 20
        self.rss_baseline = 0
        self.timings = {}
        self.debug = os.environ.get("VBENCH_WORKER_DEBUG", "") not in ("", "0")

    # ---- start-up -------------------------------------------------------------------------
    def load(self) -> None:
        """Import what `vllm bench serve` imports and set up what its CLI sets up, once."""
        import importlib.metadata

        self.serve = importlib.import_module("vllm.benchmarks.serve")
        try:
            self.vllm_version = importlib.metadata.version("vllm")
        except Exception:
            self.vllm_version = getattr(importlib.import_module("vllm"), "__version__", "unknown")
        self.FlexibleArgumentParser = importlib.import_module("vllm.utils.argparse_utils").FlexibleArgumentParser
        self.logger_mod = importlib.import_module("vllm.logger")
        self.envs = importlib.import_module("vllm.envs")
        self.cli = None
        try:
            bench_main = importlib.import_module("vllm.entrypoints.cli.benchmark.main")
            bench_serve = importlib.import_module("vllm.entrypoints.cli.benchmark.serve")
            startup = importlib.import_module("vllm.entrypoints.common.startup")
            self.cli = (
                bench_main.BenchmarkSubcommand,
                bench_serve.BenchmarkServingSubcommand,
                startup.VLLM_SUBCMD_PARSER_EPILOG,
            )
            # What vllm.entrypoints.cli.main.main() does before parsing `vllm bench ...`.
            startup.cli_env_setup()
        except (ImportError, AttributeError) as exc:  # other vLLM layouts: plain add_cli_args
            print("vbench-worker: vLLM CLI classes unavailable (%r); using add_cli_args + main" % (exc,), file=sys.stderr)
        try:
            from vllm import platforms

            if platforms.current_platform.is_unspecified():
                from vllm.platforms.cpu import CpuPlatform

                platforms.current_platform = CpuPlatform()
        except Exception as exc:
            print("vbench-worker: platform check skipped (%r)" % (exc,), file=sys.stderr)
        # Build (and drop) one parser: imports anything lazily imported by the parser code.
        saved_argv = sys.argv
        sys.argv = ["vllm", "bench", "serve"]
        try:
            self.build_parser()
        finally:
            sys.argv = saved_argv
        self.warning_filters = list(warnings.filters)
        gc.collect()
        gc.freeze()
        self.rss_baseline = rss_bytes()

    def build_parser(self):
        """The parser tree of `vllm bench serve`, built as vllm.entrypoints.cli.main builds it
        (only the `bench serve` branch: the other subcommands add nothing to its namespace)."""
        if self.cli is None:
            parser = self.FlexibleArgumentParser(prog="vllm bench serve")
            self.serve.add_cli_args(parser)
            parser.set_defaults(dispatch_function=self.serve.main)
            return parser, None
        bench_cls, serve_cls, epilog = self.cli
        import importlib.metadata

        parser = self.FlexibleArgumentParser(description="vLLM CLI", epilog=epilog.format(subcmd="[subcommand]"))
        parser.add_argument("-v", "--version", action="version", version=importlib.metadata.version("vllm"))
        subparsers = parser.add_subparsers(required=False, dest="subparser")
        bench = bench_cls()
        # BenchmarkSubcommand.subparser_init without the other bench types (latency, sweep, ...).
        bench_parser = subparsers.add_parser(
            bench.name, help=bench.help, description=bench.help, usage="vllm %s <bench_type> [options]" % bench.name
        )
        bench_parser.set_defaults(dispatch_function=bench.cmd)
        bench_subparsers = bench_parser.add_subparsers(required=True, dest="bench_type")
        serve_parser = bench_subparsers.add_parser(
            serve_cls.name,
            help=serve_cls.help,
            description=serve_cls.help,
            usage="vllm %s %s [options]" % (bench.name, serve_cls.name),
        )
        serve_parser.set_defaults(dispatch_function=serve_cls.cmd)
        serve_cls.add_cli_args(serve_parser)
        serve_parser.epilog = epilog.format(subcmd="%s %s" % (bench.name, serve_cls.name))
        return parser, bench

    # ---- one point ------------------------------------------------------------------------
    def run_point(self, argv):
        """Parse and run one `vllm bench serve` argv the way the console script does (raises
        what the console script would raise)."""
        self.timings["start"] = time.perf_counter()
        parser, command = self.build_parser()
        if self.cli is None:
            args = parser.parse_args(argv[3:])
        else:
            args = parser.parse_args(argv[1:])
            self.logger_mod.configure_logging_from_args(args)
            command.validate(args)
        del parser, command  # not alive (and so not frozen) while the benchmark runs
        self.timings["parsed"] = time.perf_counter()
        args.dispatch_function(args)

    def reset_process_state(self) -> None:
        """Make the next point start like a new process would (see the module docstring)."""
        warnings.filters[:] = self.warning_filters
        mutated = getattr(warnings, "_filters_mutated", None)
        if callable(mutated):
            mutated()  # invalidates every module's "already shown" registry
        for name in ("_print_debug_once", "_print_info_once", "_print_warning_once", "_print_error_once"):
            fn = getattr(self.logger_mod, name, None)
            if fn is not None and hasattr(fn, "cache_clear"):
                fn.cache_clear()
        disable = getattr(self.envs, "disable_envs_cache", None)
        if callable(disable):
            disable()

    def maybe_compact_gc(self) -> None:
        """Collect the garbage that vLLM's per-point gc.freeze() made permanent, once it is
        worth a full collection (about 0.5-1 s over vLLM's heap on a small CPU). Measured by
        RSS: cheap to read, unlike gc.get_freeze_count() (a walk over ~700k objects, ~50 ms)."""
        rss = rss_bytes()
        grown = rss - self.rss_baseline if rss and self.rss_baseline else 0
        compact = 0 < self.compact_bytes < grown
        if compact:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.rss_baseline = rss_bytes()
        if self.debug:
            self.diag(
                "after the point: RSS %+d KiB since the last compaction, %d frozen objects%s"
                % (grown // 1024, gc.get_freeze_count(), "; compacted (RSS now %d KiB)" % (self.rss_baseline // 1024) if compact else "")
            )

    def execute(self, req: Request) -> None:
        rid = req.rid
        argv = req.argv
        if req.error is None:
            if len(argv) < 3 or os.path.basename(argv[0]) != "vllm" or argv[1:3] != ["bench", "serve"]:
                req.fail("the worker runs only `vllm bench serve ...`; got argv %r" % (argv[:3],))
        env_backup = dict(os.environ)
        if req.error is None:
            for key, value in req.env:
                os.environ[key] = value
            if self.envs_flag("VLLM_USE_RUST_BENCH"):
                req.fail("VLLM_USE_RUST_BENCH is set: the CLI would exec the Rust client; use the process agent")
        if req.error is not None:
            restore_env(env_backup)
            self.channel.text("ERR %d %s" % (rid, one_line(req.error)))
            self.channel.text("D %d" % rid)
            return

        cwd = os.getcwd()
        saved_argv = sys.argv
        self.reset_process_state()
        self.pump.set_request(rid)
        self.channel.text("S %d %d" % (rid, os.getpid()))
        code = 1
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            sys.argv = list(argv)
            self.run_point(argv)
            code = 0
        except SystemExit as exc:
            code = exit_code_of(exc)
        except KeyboardInterrupt:
            traceback.print_exc()
            code = 130
        except BaseException:  # an exception a process would die of: its traceback, exit 1
            traceback.print_exc()
            code = 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            sys.argv = saved_argv
            restore_env(env_backup)
            try:
                os.chdir(cwd)
            except OSError:
                pass
        ran = time.perf_counter()
        flush_stdio()
        self.seq += 1
        if not self.pump.sync(self.seq):
            self.diag("the output pipe did not drain within 30 s")
        self.pump.set_request(None)
        self.channel.text("X %d %d" % (rid, code))
        if req.result_path is not None:
            self.send_file(rid, req.result_path)
        sent = time.perf_counter()
        self.maybe_compact_gc()
        if self.debug:
            t = self.timings
            self.diag(
                "request %d: parse %.1f ms, run %.1f ms, flush+X+file %.1f ms, gc check %.1f ms"
                % (
                    rid,
                    1e3 * (t.get("parsed", ran) - t.get("start", ran)),
                    1e3 * (ran - t.get("parsed", ran)),
                    1e3 * (sent - ran),
                    1e3 * (time.perf_counter() - sent),
                )
            )
        self.timings = {}
        self.channel.text("D %d" % rid)

    def diag(self, text: str) -> None:
        """A diagnostic of the worker itself: to its original stderr, never into a request."""
        try:
            os.write(self.pump.stray_fd, ("vbench-worker: %s\n" % text).encode("utf-8", "backslashreplace"))
        except OSError:
            pass

    def envs_flag(self, name: str) -> bool:
        try:
            return bool(getattr(self.envs, name))
        except Exception:
            return False

    def send_file(self, rid: int, path: str) -> None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            self.channel.text("N %d" % rid)
            return
        except OSError as exc:
            self.diag("cannot read %s: %s" % (path, exc))
            self.channel.text("N %d" % rid)
            return
        self.channel.frame(b"F %d %d\n" % (rid, len(data)), data, b"\n")

    # ---- the request loop -----------------------------------------------------------------
    def serve_forever(self, stdin) -> int:
        req = None  # type: Request | None
        while True:
            raw = stdin.readline()
            if not raw:
                if req is not None:
                    self.outside_error(req.rid, "end of input inside request %d" % req.rid)
                return 0
            line = raw[:-1] if raw.endswith(b"\n") else raw
            cmd, _, rest = line.partition(b" ")
            if cmd == b"" and not rest:
                continue
            if cmd == b"RUN":
                if req is not None:
                    self.outside_error(req.rid, "RUN %s before GO of request %d" % (to_str(rest), req.rid))
                    req = None
                if not rest.isdigit():
                    self.outside_error(0, "bad request id in %r" % to_str(line))
                    continue
                req = Request(int(rest))
            elif cmd == b"QUIT":
                if req is not None:
                    self.outside_error(req.rid, "QUIT before GO of request %d" % req.rid)
                return 0
            elif req is None:
                self.outside_error(0, "%s without RUN" % to_str(cmd) if cmd in (b"A", b"E", b"R", b"GO") else "unknown line %r" % to_str(line[:200]))
            elif cmd == b"GO":
                if rest:
                    req.fail("unexpected text after GO")
                self.execute(req)
                req = None
            elif cmd in (b"A", b"E", b"R"):
                try:
                    value = to_str(decode_value(rest))
                except ProtocolError as exc:
                    req.fail("%s: %s" % (to_str(cmd), exc))
                    continue
                if cmd == b"A":
                    req.argv.append(value)
                elif cmd == b"E":
                    key, eq, val = value.partition("=")
                    if not eq or not key:
                        req.fail("E needs KEY=VALUE, got %r" % value)
                    else:
                        req.env.append((key, val))
                else:
                    if req.result_path is not None:
                        req.fail("more than one R line")
                    elif not value:
                        req.fail("R needs a path")
                    else:
                        req.result_path = value
            else:
                req.fail("unknown line %r" % to_str(line[:200]))

    def outside_error(self, rid: int, text: str) -> None:
        self.channel.text("ERR %d %s" % (rid, one_line(text)))
        self.channel.text("D %d" % rid)


def exit_code_of(exc: SystemExit) -> int:
    """The status `python` exits with for this SystemExit (message printed like Python does)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, bool):
        return int(code)
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 where unknown)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def restore_env(backup) -> None:
    for key in [k for k in os.environ if k not in backup]:
        del os.environ[key]
    for key, value in backup.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def main() -> int:
    stdin = sys.stdin.buffer
    proto_fd = os.dup(1)
    stray_fd = os.dup(2)
    os.set_inheritable(proto_fd, False)
    os.set_inheritable(stray_fd, False)
    channel = Channel(proto_fd)
    read_fd, write_fd = os.pipe()
    pump = OutputPump(read_fd, channel, stray_fd)
    pump.start()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True, errors="backslashreplace")
        except Exception:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    worker = Worker(channel, pump)
    try:
        worker.load()
    except BaseException as exc:  # noqa: BLE001 -- any import failure is reported, then exit 3
        traceback.print_exc()
        flush_stdio()
        worker.seq += 1
        pump.sync(worker.seq, timeout=5.0)
        channel.text(
            "FAIL cannot load vLLM's benchmark client (import vllm.benchmarks.serve): %s"
            % one_line("%s: %s" % (type(exc).__name__, exc))
        )
        return 3
    flush_stdio()
    worker.seq += 1
    pump.sync(worker.seq, timeout=10.0)
    channel.text("HELLO vbench-agent %d worker vllm=%s" % (PROTOCOL_VERSION, worker.vllm_version))
    return worker.serve_forever(stdin)


if __name__ == "__main__":
    code = main()
    try:
        flush_stdio()
    finally:
        os._exit(code)
