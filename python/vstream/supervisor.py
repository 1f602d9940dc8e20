"""vstream.Supervisor: the parts of a split pipeline (ModuleIPC), each a process, looked after from Python.

Each config runs as a stage, `python -m vstream run CONFIG` in a process of its own, started with
subprocess (fork+exec: never a bare fork of a process that may run pipelines). The policy is the
C++ tool's supervisor (`vstream run a.json b.json`, docs/cli.md):

- a stage that exits with 0 is left alone (a ModuleIPC server ends when its clients said goodbye);
- a stage that dies (a signal, or a non-zero exit other than 2) is restarted up to `restarts`
  times, after 0.5 s, doubling with each restart up to 30 s (0.5 s again after a run of 30 s);
- a stage that dies for good, exits with 2 (an invalid config: restarting cannot help) or cannot be
  started stops the others (SIGTERM, SIGKILL after grace_period) and decides the exit code;
- stop() asks every stage to stop gracefully (SIGTERM), abort=True to drop queued frames.

Stages never outlive the supervisor: each learns the supervisor's pid (VSTREAM_SUPERVISOR_PID) and
asks the kernel for SIGTERM when its parent dies (see vstream.cli.watch_supervisor). The kernel
sends that signal when the *thread* that started the process ends, so one thread of the
supervisor's own starts every stage (and every restart) and lives until the last stage has ended.
Stages run in process groups of their own: a terminal's Ctrl-C reaches the program, which decides
(stop(), or the `with` block ending), not every stage at once.

    with vstream.Supervisor(["decode.json", "detect.json"], restarts=2) as supervisor:
        code = supervisor.wait()
"""

import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import weakref

from ._vstream import ArgumentError, StateError
from .cli import SUPERVISOR_PID_VARIABLE

FIRST_RESTART_DELAY = 0.5  # seconds before the first restart of a stage; doubles with each one
MAX_RESTART_DELAY = 30.0   # at most; a stage that ran this long starts over from the first delay

_log = logging.getLogger("vstream.supervisor")
_live = weakref.WeakSet()  # supervisors started and not finished, stopped at interpreter exit

# What a stage's state is, as `stages` reports it.
PENDING, RUNNING, RESTARTING, STOPPING, ENDED = "pending", "running", "restarting", "stopping", "ended"


def _how_it_ended(returncode):
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by signal {-returncode} ({name})"
    return f"exited with code {returncode}"


class _Stage:
    """One config and its runs. Every field is guarded by the supervisor's lock."""

    def __init__(self, config, overrides):
        self.config = config
        self.overrides = list(overrides)
        self.process = None          # the run in progress
        self.state = PENDING
        self.restarts = 0            # restarts done
        self.next_delay = FIRST_RESTART_DELAY
        self.started_at = 0.0
        self.restart_at = None       # when it is due to start again
        self.exit_code = None        # the last run's exit code (1 for a signal), None before one ended
        self.signal = None           # the signal that ended the last run, if one did
        self.returncode = None       # set by the run's waiting thread: the run ended, not yet handled
        self.done = False            # will not run again

    def snapshot(self):
        return {"config": self.config, "pid": self.process.pid if self.process is not None else None,
                "state": self.state, "restarts": self.restarts, "exit_code": self.exit_code, "signal": self.signal}


class Supervisor:
    """Runs each config as a `python -m vstream run CONFIG` process and looks after them.

    configs: the config files, one stage each. restarts: how often each stage is restarted after it
    died. grace_period: seconds a stage has to stop once asked before it gets SIGKILL (longer than a
    pipeline's default drain_timeout of 30 s). overrides: "module.key=value" items for every stage (a
    list), or a dict from a config (as given in configs) to the items for its stage only. python:
    the interpreter of the stages. on_event: called with a dict for each thing that happens ("event":
    started, exited, restarting, stopping, killed, finished; with "config", "pid", "exit_code",
    "signal", "delay", "reason" where they apply), on the supervisor's thread; an exception it
    raises is logged and ignored.
    """

    def __init__(self, configs, restarts=0, grace_period=40.0, overrides=None, python=sys.executable,
                 on_event=None):
        if isinstance(configs, (str, bytes, os.PathLike)):
            raise ArgumentError("Supervisor: configs must be a list of config files, not one file")
        configs = [os.fspath(config) for config in configs]
        if not configs:
            raise ArgumentError("Supervisor: configs is empty; give at least one config file")
        if not isinstance(restarts, int) or isinstance(restarts, bool) or restarts < 0:
            raise ArgumentError(f"Supervisor: restarts must be a whole number >= 0, got {restarts!r}")
        if isinstance(grace_period, bool) or not isinstance(grace_period, (int, float)) or not grace_period >= 0:
            raise ArgumentError(f"Supervisor: grace_period must be seconds >= 0, got {grace_period!r}")
        if not python:
            raise ArgumentError("Supervisor: python is empty; give the interpreter that runs the stages")
        stage_overrides = self._overrides_by_config(configs, overrides)
        self._stages = [_Stage(config, stage_overrides[config]) for config in configs]
        self._restarts = restarts
        self._grace_period = float(grace_period)
        self._python = os.fspath(python)
        self._on_event = on_event
        # The stages import the vstream package this process imported, whatever sys.path found it by.
        self._package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

        self._lock = threading.Condition()  # guards the stages and everything below
        self._thread = None
        self._stopping = False
        self._kill_at = None        # when the stages still running get SIGKILL
        self._abort_sent = False
        self._failed = None         # the stage whose death stopped the others
        self._exit_code = None      # set once every stage has ended
        self._events = []           # for on_event, emitted outside the lock

    @staticmethod
    def _overrides_by_config(configs, overrides):
        if overrides is None:
            return {config: [] for config in configs}
        if isinstance(overrides, str):
            raise ArgumentError("Supervisor: overrides must be a list of 'module.key=value' items (or a dict of "
                                "such lists by config), not one string")
        if isinstance(overrides, dict):
            unknown = [key for key in overrides if os.fspath(key) not in configs]
            if unknown:
                raise ArgumentError(f"Supervisor: overrides names {unknown[0]!r}, which is not one of the configs "
                                    f"{configs}")
            by_config = {os.fspath(key): list(value) for key, value in overrides.items()}
            return {config: by_config.get(config, []) for config in configs}
        items = list(overrides)
        return {config: items for config in configs}

    # --- the program's side ---------------------------------------------------------------------

    def start(self):
        """Starts every stage (on the supervisor's thread) and returns. Raises StateError when called
        twice."""
        with self._lock:
            if self._thread is not None:
                raise StateError("Supervisor.start(): already started")
            self._thread = threading.Thread(target=self._supervise, name="vstream-supervisor", daemon=True)
            _live.add(self)
            self._thread.start()
        return self

    def wait(self, timeout=None):
        """The exit code once every stage has ended, or None when `timeout` (seconds) passes first.
        0 when every stage's last run ended well, else the failing stage's code (1 for a signal)."""
        with self._lock:
            self._check_caller("wait")
            self._lock.wait_for(lambda: self._exit_code is not None, timeout)
            return self._exit_code

    def stop(self, abort=False):
        """Asks every stage to stop (SIGTERM: gracefully; abort=True: SIGTERM and SIGINT, which a
        stage takes as a second request and aborts), SIGKILL after grace_period, cancels restarts,
        and waits until every stage has ended; returns the exit code. A KeyboardInterrupt while it
        waits aborts the stages, a second one kills them; it is raised again once they ended."""
        with self._lock:
            self._check_caller("stop")
            if self._exit_code is not None:
                return self._exit_code
            self._request_stop(abort, "stop() was called")
        interrupted = None
        while True:
            try:
                code = self.wait()
                break
            except KeyboardInterrupt as error:
                interrupted = error
                with self._lock:
                    if not self._abort_sent:
                        self._request_stop(True, "interrupted while stopping")
                    else:
                        self._kill_at = time.monotonic()
                        self._lock.notify_all()
        if interrupted is not None:
            raise interrupted
        return code

    def _check_caller(self, call):
        # Under the lock.
        if self._thread is None:
            raise StateError(f"Supervisor.{call}(): start() it first")
        if threading.current_thread() is self._thread:  # on_event: it would wait for itself
            raise StateError(f"Supervisor.{call}() cannot be called from on_event, which runs on the supervisor's "
                             "thread; call it from another thread")

    @property
    def stages(self):
        """Each stage as a dict: config, pid (None while not running), state (pending, running,
        restarting, stopping, ended), restarts (done so far), exit_code and signal of its last run."""
        with self._lock:
            return [stage.snapshot() for stage in self._stages]

    @property
    def running(self):
        """True from start() until every stage has ended."""
        with self._lock:
            return self._thread is not None and self._exit_code is None

    def __enter__(self):
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.stop()  # gracefully; Ctrl-C while it waits aborts
        return False

    # --- the supervisor's thread ----------------------------------------------------------------

    def _event(self, kind, **fields):
        # Under the lock; emitted by _emit once it is released.
        self._events.append({"event": kind, **fields})

    def _emit(self):
        with self._lock:
            events, self._events = self._events, []
        if self._on_event is None:
            return
        for event in events:
            try:
                self._on_event(event)
            except Exception:  # noqa: BLE001 (a callback's failure must not stop the supervision)
                _log.exception("vstream.Supervisor: on_event raised for %s", event)

    def _request_stop(self, abort, reason):
        # Under the lock. The first request sets the kill deadline; abort adds a second signal (a
        # stage takes SIGTERM and SIGINT as two requests: the second aborts), sent right after the
        # first to each stage, so that both wait for its sigwait before a quick graceful stop ends.
        signals = []
        if not self._stopping:
            self._stopping = True
            self._kill_at = time.monotonic() + self._grace_period
            self._event("stopping", reason=reason)
            _log.warning("stopping every stage: %s", reason)
            signals.append(signal.SIGTERM)
        if abort and not self._abort_sent:
            self._abort_sent = True
            signals.append(signal.SIGINT)
        if signals:
            self._signal_all(signals)
        self._lock.notify_all()

    def _signal_all(self, signals):
        for stage in self._stages:
            if stage.done:
                continue
            if stage.process is not None and stage.returncode is None:
                stage.state = STOPPING
                for signum in signals:
                    self._send(stage, signum)
            elif stage.process is None:  # waiting for a restart (or not started yet)
                stage.done = True
                stage.state = ENDED
                stage.restart_at = None

    @staticmethod
    def _send(stage, signum):
        try:
            # A run whose end is not recorded yet: reaped an instant ago at most, its pid not reused yet.
            os.kill(stage.process.pid, signum)
        except ProcessLookupError:
            pass

    def _environment(self):
        environment = dict(os.environ)
        environment[SUPERVISOR_PID_VARIABLE] = str(os.getpid())
        path = environment.get("PYTHONPATH")
        environment["PYTHONPATH"] = self._package_root + (os.pathsep + path if path else "")
        return environment

    def _spawn(self, stage):
        # Under the lock, on the supervisor's thread (whose end sends the stages their parent-death signal).
        stage.restart_at = None
        stage.returncode = None
        command = [self._python, "-m", "vstream", "run", stage.config] + [f"--set={o}" for o in stage.overrides]
        group = {"process_group": 0} if sys.version_info >= (3, 11) else {"start_new_session": True}
        try:
            stage.process = subprocess.Popen(command, env=self._environment(), **group)
        except OSError as error:
            stage.process = None
            stage.exit_code = 1
            stage.signal = None
            self._give_up(stage, f"could not be started: {error}")
            return
        stage.state = STOPPING if self._stopping else RUNNING
        stage.started_at = time.monotonic()
        self._event("started", config=stage.config, pid=stage.process.pid)
        _log.info("started stage %s (pid %d)", stage.config, stage.process.pid)
        process = stage.process

        def wait_for_run():  # one thread per run, so no waiting polls
            returncode = process.wait()
            with self._lock:
                if stage.process is process:
                    stage.returncode = returncode
                    self._lock.notify_all()

        threading.Thread(target=wait_for_run, name=f"vstream-stage-{process.pid}", daemon=True).start()

    def _give_up(self, stage, how):
        # Under the lock: the stage will not run again; the first such stage stops the others.
        stage.done = True
        stage.state = ENDED
        if self._failed is not None or self._stopping:
            return
        self._failed = (stage, how)
        if any(not other.done for other in self._stages):
            _log.warning("stopping the other stages because stage %s %s", stage.config, how)
        self._request_stop(False, f"stage {stage.config} {how}")

    def _ended(self, stage):
        # Under the lock: the stage's run ended (returncode set by its waiting thread).
        returncode = stage.returncode
        pid = stage.process.pid
        stage.process = None
        stage.returncode = None
        stage.exit_code = 0 if returncode == 0 else (returncode if returncode > 0 else 1)
        stage.signal = -returncode if returncode < 0 else None
        how = f"(pid {pid}) {_how_it_ended(returncode)}"
        self._event("exited", config=stage.config, pid=pid, exit_code=stage.exit_code, signal=stage.signal)
        if returncode == 0 or self._stopping:
            stage.done = True
            stage.state = ENDED
            if returncode != 0:
                _log.warning("stage %s %s", stage.config, how)
            return
        if stage.restarts < self._restarts and returncode != 2:
            stage.restarts += 1
            if time.monotonic() - stage.started_at >= MAX_RESTART_DELAY:
                stage.next_delay = FIRST_RESTART_DELAY  # it ran a good while: start over
            delay = stage.next_delay
            stage.next_delay = min(delay * 2, MAX_RESTART_DELAY)
            stage.restart_at = time.monotonic() + delay
            stage.state = RESTARTING
            self._event("restarting", config=stage.config, delay=delay, restart=stage.restarts, of=self._restarts)
            _log.warning("stage %s %s; restarting it (%d of %d) in %.1f s", stage.config, how, stage.restarts,
                         self._restarts, delay)
            return
        _log.warning("stage %s %s%s", stage.config, how,
                     "; no restarts left" if self._restarts > 0 else "; restarts=N would restart it")
        self._give_up(stage, how)

    def _supervise(self):
        try:
            self._supervise_stages()
        except BaseException:  # noqa: BLE001 (a bug, or on_event raising SystemExit: nobody must wait forever)
            _log.exception("vstream.Supervisor: supervising failed; killing the stages still running")
            with self._lock:
                for stage in self._stages:
                    if stage.process is not None and stage.returncode is None:
                        self._send(stage, signal.SIGKILL)
                if self._exit_code is None:
                    self._exit_code = 1
                _live.discard(self)
                self._lock.notify_all()

    def _supervise_stages(self):
        # Not this thread's business: the program's signals (the main thread takes them). Blocked
        # here, the stages start with them blocked too, so one that comes while a stage is starting
        # waits for its sigwait instead of killing it half-started.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        with self._lock:
            for stage in self._stages:
                if not stage.done:
                    self._spawn(stage)
        self._emit()
        while True:
            with self._lock:
                for stage in self._stages:
                    if stage.process is not None and stage.returncode is not None:
                        self._ended(stage)
                now = time.monotonic()
                if self._kill_at is not None and now >= self._kill_at:
                    self._kill_at = None
                    for stage in self._stages:
                        if stage.process is not None and stage.returncode is None:
                            _log.warning("stage %s (pid %d) did not stop within %.1f s; killing it (SIGKILL)",
                                         stage.config, stage.process.pid, self._grace_period)
                            self._event("killed", config=stage.config, pid=stage.process.pid)
                            self._send(stage, signal.SIGKILL)
                for stage in self._stages:
                    if not stage.done and stage.process is None and stage.restart_at is not None \
                            and now >= stage.restart_at:
                        self._spawn(stage)
                if all(stage.done for stage in self._stages):
                    break
                due = [stage.restart_at for stage in self._stages if stage.restart_at is not None]
                if self._kill_at is not None:
                    due.append(self._kill_at)
                pending = self._events or any(s.process is not None and s.returncode is not None
                                              for s in self._stages)
                if not pending:
                    self._lock.wait(max(0.0, min(due) - now) if due else None)
            self._emit()
        with self._lock:
            if self._failed is not None:
                stage, how = self._failed
                code = stage.exit_code
                _log.warning("exiting with code %d: stage %s %s", code, stage.config, how)
            else:
                code = next((stage.exit_code for stage in self._stages if stage.exit_code), 0)
            self._event("finished", exit_code=code)
        self._emit()
        with self._lock:
            self._exit_code = code
            _live.discard(self)
            self._lock.notify_all()


@atexit.register
def _stop_live_supervisors():
    """At interpreter exit: every supervisor still running stops its stages (gracefully) first."""
    for supervisor in list(_live):
        try:
            supervisor.stop()
        except Exception:  # noqa: BLE001 (exit goes on)
            _log.exception("vstream.Supervisor: stopping at exit failed")
