"""`python -m vstream run CONFIG`: one pipeline run to its end from Python, as `vstream run CONFIG`.

The Python counterpart of the C++ tool's single-config run, for pipelines whose stages are Python
classes (PyModule needs no host plugin here) and for the stages of vstream.Supervisor:

    python -m vstream run CONFIG [--set MODULE.KEY=VALUE]... [--stats-interval SECONDS]

It builds the config with the overrides, starts it and waits until every stream has ended. SIGINT,
SIGTERM and SIGHUP stop it gracefully (queued frames finish); a second one aborts. The signals are
blocked from the first line of main() and taken by the main thread with sigwait, as the tool does:
no Python signal handler runs in the middle of pipeline code, and a signal that comes while the
config loads stops the run once it has started instead of killing it half-built. The pipeline's
threads inherit the blocked mask, so only the main thread ever takes these signals.

Exit codes, as the tool's: 0 success; 1 a runtime error (a module that cannot open, a stream or
module error event, a stop that failed); 2 an invalid config (or a config file that cannot be
read, or a malformed override); 64 wrong usage. Every error message names the config.

A stage started by a supervisor (vstream.Supervisor, or `vstream run a.json b.json`) finds the
supervisor's pid in VSTREAM_SUPERVISOR_PID and asks the kernel for SIGTERM when its parent dies
(PR_SET_PDEATHSIG), so no stage outlives its supervisor.
"""

import argparse
import ctypes
import math
import os
import signal
import sys
import threading

from ._vstream import Error, Pipeline

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_CONFIG = 2
EXIT_USAGE = 64

# The environment variable through which a supervisor tells its stages its pid (the C++ tool's too).
SUPERVISOR_PID_VARIABLE = "VSTREAM_SUPERVISOR_PID"

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_WAKE_SIGNAL = signal.SIGUSR1  # the waiting thread wakes the main thread with it when the streams ended
_PR_SET_PDEATHSIG = 1  # <sys/prctl.h>

_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "hangup"}


def _say(message):
    print(f"vstream: {message}", file=sys.stderr, flush=True)


class _Parser(argparse.ArgumentParser):
    """argparse with the tool's usage exit code (64, not argparse's 2, which means an invalid config)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    # As the C++ tool: 0 turns the table off; below a tenth of a second it would scroll past unread.
    if not (value == 0 or 0.1 <= value <= 86400):
        raise argparse.ArgumentTypeError(f"takes seconds: 0 (no table) or from 0.1 to 86400, got '{text}'")
    return value


def _parser():
    parser = _Parser(prog="python -m vstream", description="Runs vstream pipelines from Python (docs/python.md).",
                     epilog="exit codes: 0 success, 1 runtime error, 2 invalid config, 64 wrong usage")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    run = commands.add_parser(
        "run", help="runs one pipeline until every stream has ended",
        description="Runs the pipeline until every stream has ended: Ctrl-C, SIGTERM or SIGHUP stops it "
                    "gracefully, a second one aborts.",
        epilog="exit codes: 0 success, 1 runtime error, 2 invalid config, 64 wrong usage")
    run.add_argument("config", metavar="CONFIG", help="the pipeline config (JSON)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="MODULE.KEY=VALUE",
                     help="overrides one value before validation (repeatable)")
    run.add_argument("--stats-interval", type=_seconds, default=0.0, metavar="SECONDS",
                     help="prints the stats table this often (0, the default: only at the end)")
    return parser


def watch_supervisor():
    """In a stage a supervisor started: SIGTERM (a graceful stop) when the supervisor dies.

    Reads the supervisor's pid from VSTREAM_SUPERVISOR_PID and removes it (it is not for processes
    this one starts). The kernel sends the parent-death signal only if the parent dies after the
    request, so a parent that is not the supervisor any more (it died before: this process was
    re-parented) means it is gone already: the signal is sent at once. Call it with the stop signals
    blocked (they are taken with sigwait). Does nothing in a process no supervisor started."""
    value = os.environ.pop(SUPERVISOR_PID_VARIABLE, None)
    if value is None:
        return
    try:
        supervisor = int(value)
    except ValueError:
        _say(f"ignoring {SUPERVISOR_PID_VARIABLE}={value!r}: not a process id")
        return
    if supervisor <= 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    arguments = (ctypes.c_ulong(int(signal.SIGTERM)), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if libc.prctl(ctypes.c_int(_PR_SET_PDEATHSIG), *arguments) != 0:
        _say(f"cannot watch the supervisor (pid {supervisor}): prctl: {os.strerror(ctypes.get_errno())}")
    if os.getppid() != supervisor:
        os.kill(os.getpid(), signal.SIGTERM)


def _named(config, message):
    """`message` with the config's name in front, unless it names the config already."""
    return message if config in message else f"{config}: {message}"


def run(config, overrides=(), stats_interval=0.0):
    """Runs the pipeline of `config` to its end; returns the exit code. Call it from the main
    thread with the stop signals and SIGUSR1 blocked in every thread (main() does)."""
    pipeline = Pipeline(config)
    try:
        pipeline.build_from_file(config, list(overrides))
    except Error as error:  # unreadable file, malformed override, invalid config: nothing started
        print(_named(config, str(error)), file=sys.stderr, flush=True)
        return EXIT_CONFIG

    errors = 0
    errors_lock = threading.Lock()

    def observe(event):
        nonlocal errors
        if event.type in ("stream_error", "module_error"):
            with errors_lock:
                errors += 1

    pipeline.set_observer(observe)
    try:
        pipeline.start()
    except Error as error:
        print(_named(config, str(error)), file=sys.stderr, flush=True)
        return EXIT_RUNTIME

    main_thread = threading.get_ident()

    # Waits for the streams on a thread of its own (printing the stats every interval), then wakes
    # the main thread, which meanwhile takes the signals.
    def wait_for_streams():
        try:
            timeout = stats_interval if stats_interval > 0 else None
            while not pipeline.wait(timeout=timeout) and pipeline.running:
                print(pipeline.stats_table(since_last=True), file=sys.stderr, flush=True)
        finally:
            signal.pthread_kill(main_thread, _WAKE_SIGNAL)

    stop_failures = []

    def stop(mode):
        try:
            pipeline.stop(mode=mode)
        except Error as error:
            stop_failures.append(str(error))

    waiter = threading.Thread(target=wait_for_streams, name="vstream-wait", daemon=True)
    waiter.start()
    interrupts = 0
    graceful_stopper = None  # stop(graceful) blocks while queued frames drain: beside the signal loop
    woken = False
    while True:
        # sigwait takes the lowest-numbered pending signal first, and SIGUSR1 is below SIGTERM: stop
        # signals that came before the wake-up are still taken, so each request is answered.
        if woken and not signal.sigpending() & set(_STOP_SIGNALS):
            break
        received = signal.sigwait(set(_STOP_SIGNALS) | {_WAKE_SIGNAL})
        if received == _WAKE_SIGNAL:
            woken = True
            continue
        interrupts += 1
        what = _SIGNAL_NAMES.get(received, signal.Signals(received).name)
        if interrupts == 1:
            _say(f"{what}: stopping gracefully (again to abort)")
            graceful_stopper = threading.Thread(target=stop, args=("graceful",), name="vstream-stop", daemon=True)
            graceful_stopper.start()
        elif interrupts == 2:
            _say(f"{what}: aborting")
            stop("abort")  # the waiting thread then sees the pipeline stopped and wakes this one
    waiter.join()
    stop("abort" if interrupts > 1 else "graceful")
    if graceful_stopper is not None:
        graceful_stopper.join()

    print("summary:\n" + pipeline.stats_table(), file=sys.stderr, flush=True)
    for failure in stop_failures:
        print(_named(config, failure), file=sys.stderr, flush=True)
    if stop_failures:
        return EXIT_RUNTIME
    if errors > 0:
        _say(f"{config}: {errors} stream or module error(s) were reported")
        return EXIT_RUNTIME
    return EXIT_OK


def main(argv=None):
    """`python -m vstream ...`; returns the exit code. For the main thread of a process of its own."""
    # Before anything else (and before any thread starts, so every thread inherits the mask): a stop
    # signal that comes early waits for sigwait instead of killing a half-built pipeline.
    signal.pthread_sigmask(signal.SIG_BLOCK, set(_STOP_SIGNALS) | {_WAKE_SIGNAL})
    watch_supervisor()
    args = _parser().parse_args(argv)
    if args.command == "run":
        return run(args.config, args.overrides, args.stats_interval)
    return EXIT_USAGE  # (argparse knows only the commands above)
