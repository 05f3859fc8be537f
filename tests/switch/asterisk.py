"""A real Asterisk 22 for tests, run from a cached Debian sid chroot.

The one rule: the switch under test runs the deploy/asterisk config unchanged; the only
test-only parts are added beside it (the simulator contexts and queues below, a free AMI
port, a throwaway secret, and private directories).

Each `Asterisk` owns an instance directory inside the chroot (`/srv/hotline-test/<name>`)
holding its config, control socket, spool (recordings), logs and astdb, so two test runs
on one machine do not share a switch. Asterisk runs in the foreground (`asterisk -f`) as
root inside the chroot; `stop()` asks `core stop now` and kills the process group when
that does not end it in time.

Simulator (test-only dialplan, appended to deploy/asterisk/extensions.conf):

* `sim-pstn` is the customer's phone. Originate `Channel: Local/<number>@sim-pstn`,
  `CallerID: <name> <number>`, `Context: hotline-inbound`, `Exten: <hotline number>`:
  the `;2` half (in sim-pstn) answers, plays a 440 Hz tone (the customer's voice) and
  hangs up after `SIM_HANGUP_AFTER` seconds with cause `SIM_HANGUP_CAUSE` (default: stays
  until the other side hangs up, cause 16), or, with `SIM_SURVEY_KEY`, presses that key
  (SendDTMF) `SIM_SURVEY_AFTER` seconds after answering (the post-call survey); the `;1`
  half is the customer call that runs the real hotline-inbound dialplan.
* `sim-pstn-late` is a customer's phone that rings 15 s before answering (as `sim-pstn`):
  the channel of a callback still in flight, `Local/{number}@sim-pstn-late`.
* `sim-agent` are the queue members: `Local/pickup-<N>@sim-agent` answers after N
  seconds, plays 1000 Hz (the agent's voice), and hangs up after `SIM_AGENT_TALK`
  seconds with cause `SIM_AGENT_HANGUP_CAUSE` (default: stays, 16);
  `Local/noanswer@sim-agent` never answers. Pass these two with a `__` prefix on the
  Originate so they are inherited by the member channels.
* queues: `hotline-fast` (answers after 3 s), `hotline-slow` (20 s), `hotline-two`
  (first member rings out after 5 s, the second answers 2 s later). Choose one with the
  channel variable `HOTLINE_QUEUE` (the deploy dialplan's global default is overridden
  by a channel variable of the same name); `HOTLINE_QUEUE_TIMEOUT` likewise.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "asterisk"
CHROOT_SCRIPT = REPO / "scripts" / "asterisk-chroot.sh"
DEFAULT_ROOT = "/var/cache/hotline/asterisk-sid"
INSTANCES = "/srv/hotline-test"  # inside the chroot
MODDIR = "/usr/lib/x86_64-linux-gnu/asterisk/modules"

# Loaded explicitly (autoload=no): starts in about a second instead of several, and keeps
# the logs free of SIP/RTP noise. Local channels and the manager are built into the core.
MODULES = (
    "pbx_config.so",  # extensions.conf
    "app_queue.so",
    "app_mixmonitor.so",
    "app_dial.so",
    "app_userevent.so",
    "app_playtones.so",
    "app_verbose.so",
    "app_stack.so",  # Gosub
    "func_logic.so",  # IF
    "func_strings.so",  # LEN, STRFTIME
    "func_callerid.so",
    "func_channel.so",
    "func_global.so",
    "bridge_simple.so",  # the two-party bridge Queue/Dial use
    "bridge_builtin_features.so",
    "format_wav.so",
    "format_pcm.so",
    "codec_ulaw.so",
    "codec_alaw.so",
    "codec_resample.so",
    "res_timing_timerfd.so",  # without a timer Playtones makes no audio: empty recordings
    "app_chanspy.so",  # the hotline-spy context (监听/耳语/强插)
    "app_read.so",  # the hotline-survey context (满意度评价): Read, Playback, the prompts
    "app_playback.so",
    "app_senddtmf.so",  # the simulated customer's key press
    "format_gsm.so",
    "codec_gsm.so",
    # PJSIP, for the sipp phones (tests/switch/sipp.py): registrations and device states
    "res_pjproject.so",
    "res_sorcery_config.so",
    "res_sorcery_memory.so",
    "res_sorcery_astdb.so",
    "res_pjsip.so",
    "res_pjsip_pubsub.so",  # chan_pjsip needs it
    "res_pjsip_session.so",
    "res_pjsip_registrar.so",
    "res_pjsip_endpoint_identifier_user.so",
    "res_pjsip_sdp_rtp.so",
    "res_rtp_asterisk.so",
    "chan_pjsip.so",
)

# Agents that are real SIP phones (sipp), PJSIP endpoints of the switch, and the queue
# they answer: `hotline-sip` (static members with their state interface, wrap-up 3 s).
SIP_AGENTS = ("1001", "1002", "1003")

SIM_EXTENSIONS = r"""
; ===================== test-only simulator (tests/switch/asterisk.py) =====================
[sim-pstn]
; 客户话机 / the customer's phone (the ;2 half of Local/<number>@sim-pstn)
exten => _X.,1,NoOp(sim customer ${EXTEN} answers)
 same => n,Answer()
 same => n,Playtones(440)
 same => n,GotoIf($[${LEN(${SIM_SURVEY_KEY})}]?survey)
 same => n,Wait(${IF($[${LEN(${SIM_HANGUP_AFTER})}]?${SIM_HANGUP_AFTER}:3600)})
 same => n,Hangup(${IF($[${LEN(${SIM_HANGUP_CAUSE})}]?${SIM_HANGUP_CAUSE}:16)})
 ; the survey customer presses SIM_SURVEY_KEY SIM_SURVEY_AFTER s after the call began
 same => n(survey),Wait(${SIM_SURVEY_AFTER})
 same => n,StopPlaytones()
 same => n,SendDTMF(${SIM_SURVEY_KEY})
 same => n,Wait(3600)

[sim-pstn-late]
; 客户话机，响铃 15 秒才接 / the customer's phone that rings 15 s before it answers (a
; callback still ringing while something else happens), then as sim-pstn
exten => _X.,1,NoOp(sim customer ${EXTEN} rings 15 s)
 same => n,Ringing()
 same => n,Wait(15)
 same => n,Goto(sim-pstn,${EXTEN},1)

[sim-agent]
; 模拟坐席 / simulated agents: queue members Local/pickup-<N>@sim-agent
; (not "answer-N": n, x, z are pattern letters in any case, so _answer-X. never matches)
exten => _pickup-.,1,NoOp(sim agent rings ${EXTEN:7} s)
 same => n,Wait(${EXTEN:7})
 same => n,Answer()
 same => n,Playtones(1000)
 same => n,Wait(${IF($[${LEN(${SIM_AGENT_TALK})}]?${SIM_AGENT_TALK}:3600)})
 same => n,Hangup(${IF($[${LEN(${SIM_AGENT_HANGUP_CAUSE})}]?${SIM_AGENT_HANGUP_CAUSE}:16)})
exten => noanswer,1,NoOp(sim agent never answers)
 same => n,Wait(3600)
exten => _spare.,1,NoOp(spare member ${EXTEN} rung: a test queue ran out of real members)
 same => n,Wait(3600)

[sim-survey-off]
; the trunk of a hotline whose [globals] turn the survey off for two queues (a comma list)
exten => _X.,1,Set(HOTLINE_SURVEY_OFF=vip,hotline-fast)
 same => n,Goto(hotline-inbound,${EXTEN},1)

[sim-super]
; 班长话机 / the supervisor's phone for spy calls: Local/super@sim-super answers at once
exten => super,1,NoOp(sim supervisor phone answers)
 same => n,Answer()
 same => n,Wait(3600)
"""

SIM_QUEUES = r"""
; ===================== test-only queues (tests/switch/asterisk.py) =====================
[sim-queue](!)
strategy = linear
retry = 1
ringinuse = yes                ; scenarios may run at the same time on one member
autofill = yes
joinempty = yes
leavewhenempty = no
announce-frequency = 0
timeoutpriority = app
setinterfacevar = yes
setqueueentryvar = yes
setqueuevar = yes
; Spare members (penalty 9, never answer) are only there to count: with autofill,
; app_queue lets as many waiting callers ring at once as it counts available members,
; so with one member a caller joining while the head caller is between tries waits its
; turn. Linear order rings them only after every real member of a round.
member => Local/spare1@sim-agent,9,spare-1
member => Local/spare2@sim-agent,9,spare-2
member => Local/spare3@sim-agent,9,spare-3
member => Local/spare4@sim-agent,9,spare-4

[hotline-fast](sim-queue)
timeout = 15
member => Local/pickup-3@sim-agent,0,agent-fast

[hotline-slow](sim-queue)
timeout = 30
member => Local/pickup-20@sim-agent,0,agent-slow

[hotline-sip]
; real SIP phones (sipp): static members with their state interface, as deploy suggests
strategy = linear
timeout = 8
retry = 1
wrapuptime = 3
ringinuse = no
autofill = yes
joinempty = yes
leavewhenempty = no
announce-frequency = 0
timeoutpriority = app
setinterfacevar = yes
setqueueentryvar = yes
setqueuevar = yes
member => PJSIP/1001,0,工号1001,PJSIP/1001
member => PJSIP/1002,0,工号1002,PJSIP/1002

[hotline-two](sim-queue)
timeout = 5
member => Local/noanswer@sim-agent,0,agent-noanswer
member => Local/pickup-2@sim-agent,0,agent-two
"""


class AsteriskError(RuntimeError):
    """The chroot could not be built or Asterisk did not start; the message says why."""


def ensure_chroot(root: str | None = None, timeout: float = 900) -> Path:
    """Build the sid chroot unless the cached one is complete; return its path."""
    env = dict(os.environ)
    if root:
        env["HOTLINE_ASTERISK_ROOT"] = root
    try:
        proc = subprocess.run(
            ["bash", str(CHROOT_SCRIPT)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise AsteriskError(f"{CHROOT_SCRIPT} took longer than {timeout} s") from exc
    if proc.returncode != 0:
        raise AsteriskError(
            f"{CHROOT_SCRIPT} failed (exit {proc.returncode}); it needs root and the "
            f"Debian mirror. Its output:\n{proc.stderr[-4000:]}"
        )
    return Path(proc.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Asterisk:
    """One Asterisk process in the chroot. `start()`, use, `stop()`."""

    root: Path = field(
        default_factory=lambda: Path(os.environ.get("HOTLINE_ASTERISK_ROOT", DEFAULT_ROOT))
    )
    name: str = field(default_factory=lambda: f"pid{os.getpid()}")
    ami_username: str = "hotline"
    ami_secret: str = "hotline-test-secret"
    ami_port: int = 0
    sip_port: int = 0  # PJSIP's UDP port on 127.0.0.1, for the sipp phones
    start_timeout: float = 30.0
    stop_timeout: float = 10.0
    _proc: subprocess.Popen[bytes] | None = None
    _console: object | None = None

    # ---- paths -------------------------------------------------------------------------
    @property
    def inner_dir(self) -> str:
        """The instance directory as Asterisk sees it (inside the chroot)."""
        return f"{INSTANCES}/{self.name}"

    @property
    def instance_dir(self) -> Path:
        """The instance directory as seen from the host."""
        return self.root / self.inner_dir.lstrip("/")

    @property
    def config_dir(self) -> Path:
        return self.instance_dir / "etc"

    @property
    def spool_dir(self) -> Path:
        return self.instance_dir / "spool"

    @property
    def monitor_dir(self) -> Path:
        """Where MixMonitor writes; MIXMONITOR_FILENAME is this path inside the chroot."""
        return self.spool_dir / "monitor"

    @property
    def log_path(self) -> Path:
        """Asterisk's full log (verbose 3, notices, warnings, errors)."""
        return self.instance_dir / "log" / "full"

    @property
    def console_path(self) -> Path:
        """stdout and stderr of the asterisk process."""
        return self.instance_dir / "console.log"

    def host_path(self, inner: str) -> Path:
        """A path Asterisk reported (e.g. MIXMONITOR_FILENAME) as seen from the host."""
        return self.root / inner.lstrip("/")

    def log(self) -> str:
        parts = []
        for p in (self.console_path, self.log_path):
            if p.exists():
                parts.append(f"==> {p} <==\n" + p.read_text(errors="replace"))
        return "\n".join(parts)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ---- config ------------------------------------------------------------------------
    def _write_config(self) -> None:
        etc = self.config_dir
        if etc.exists():
            shutil.rmtree(etc)
        etc.mkdir(parents=True)
        d = self.inner_dir
        (etc / "asterisk.conf").write_text(
            "[directories]\n"
            f"astcachedir => {d}/cache\n"
            f"astetcdir => {d}/etc\n"
            f"astmoddir => {MODDIR}\n"
            "astvarlibdir => /var/lib/asterisk\n"
            f"astdbdir => {d}/db\n"
            "astkeydir => /var/lib/asterisk\n"
            "astdatadir => /usr/share/asterisk\n"
            "astagidir => /usr/share/asterisk/agi-bin\n"
            f"astspooldir => {d}/spool\n"
            f"astrundir => {d}/run\n"
            f"astlogdir => {d}/log\n"
            "astsbindir => /usr/sbin\n"
            "[options]\n"
            "verbose = 3\n"
            "debug = 0\n"
            "nofork = yes\n"
            "highpriority = no\n"
            "transmit_silence = no\n"
            "documentation_language = en_US\n"
        )
        (etc / "modules.conf").write_text(
            "[modules]\nautoload = no\n" + "".join(f"load => {m}\n" for m in MODULES)
        )
        (etc / "logger.conf").write_text(
            "[general]\ndateformat = %F %T.%3q\n"
            "[logfiles]\nfull => notice,warning,error,verbose(3),dtmf\n"
        )
        manager = (DEPLOY / "manager.conf").read_text()
        manager = re.sub(r"(?m)^port\s*=.*$", f"port = {self.ami_port}", manager)
        manager = re.sub(r"(?m)^secret\s*=.*$", f"secret = {self.ami_secret}", manager)
        manager = re.sub(r"(?m)^\[hotline\]", f"[{self.ami_username}]", manager)
        (etc / "manager.conf").write_text(manager)
        (etc / "extensions.conf").write_text(
            (DEPLOY / "extensions.conf").read_text() + SIM_EXTENSIONS
        )
        (etc / "queues.conf").write_text((DEPLOY / "queues.conf").read_text() + SIM_QUEUES)
        agents = "".join(
            f"[{ext}]\ntype=endpoint\ncontext=sim-agent\ndisallow=all\nallow=ulaw\n"
            f"aors={ext}\ndirect_media=no\n"
            f"[{ext}]\ntype=aor\nmax_contacts=1\nremove_existing=yes\n"
            for ext in SIP_AGENTS
        )
        (etc / "pjsip.conf").write_text(
            "[transport-udp]\ntype=transport\nprotocol=udp\n"
            f"bind=127.0.0.1:{self.sip_port}\n" + agents
        )
        (etc / "rtp.conf").write_text("[general]\nrtpstart=30000\nrtpend=30999\n")
        for empty in ("cel.conf", "features.conf", "ccss.conf", "acl.conf", "udptl.conf"):
            (etc / empty).write_text("")
        (etc / "cdr.conf").write_text("[general]\nenable = no\n")
        (etc / "indications.conf").write_text(
            "[general]\ncountry = cn\n[cn]\ndescription = China\n"
            "ringcadence = 1000,4000\ndial = 450\nbusy = 450/350,0/350\n"
            "ring = 450/1000,0/4000\ncongestion = 450/700,0/700\n"
        )

    def _prepare_dirs(self) -> None:
        base = self.root / INSTANCES.lstrip("/")
        base.mkdir(parents=True, exist_ok=True)
        # Drop instance dirs of test runs that are gone (pidNNN of a dead process).
        for old in base.iterdir():
            m = re.fullmatch(r"pid(\d+)", old.name)
            if m and old.name != self.name and not _pid_alive(int(m.group(1))):
                shutil.rmtree(old, ignore_errors=True)
        if self.instance_dir.exists():
            shutil.rmtree(self.instance_dir)
        for sub in ("etc", "run", "log", "db", "cache", "spool/monitor"):
            (self.instance_dir / sub).mkdir(parents=True, exist_ok=True)

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, *, fresh: bool = True) -> None:
        """Start Asterisk and wait until it is fully booted and AMI sends its banner.

        fresh=False (used by restart) keeps the instance dir: recordings, logs, astdb.
        """
        if self.running:
            raise AsteriskError("already running")
        if os.geteuid() != 0:
            raise AsteriskError("the switch tests need root (chroot); run them as root")
        if not (self.root / "usr/sbin/asterisk").exists():
            raise AsteriskError(f"no Asterisk in {self.root}; run scripts/asterisk-chroot.sh")
        if fresh or not self.instance_dir.exists():
            self._prepare_dirs()
        if not self.ami_port:
            self.ami_port = free_port()
        if not self.sip_port:
            self.sip_port = free_udp_port()
        self._write_config()
        for stale in (self.instance_dir / "run").glob("asterisk.*"):
            stale.unlink()
        console = open(self.console_path, "ab")  # noqa: SIM115 - closed in stop()
        self._console = console
        self._proc = subprocess.Popen(
            [
                "chroot",
                str(self.root),
                "/usr/sbin/asterisk",
                "-f",
                "-n",
                "-C",
                f"{self.inner_dir}/etc/asterisk.conf",
            ],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self._kill()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        ctl = self.instance_dir / "run" / "asterisk.ctl"
        while not ctl.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise AsteriskError(
                    f"no control socket after {self.start_timeout} s\n" + self.log_tail()
                )
            time.sleep(0.05)
        left = max(1.0, deadline - time.monotonic())
        out = self.cli("core waitfullybooted", timeout=left)
        if "fully booted" not in out.lower():
            raise AsteriskError(f"core waitfullybooted said {out!r}\n" + self.log_tail())
        while True:
            self._check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.ami_port), timeout=2) as s:
                    banner = s.recv(200)
                if banner.startswith(b"Asterisk Call Manager/"):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AsteriskError(
                    f"AMI on 127.0.0.1:{self.ami_port} sent no banner\n" + self.log_tail()
                )
            time.sleep(0.1)

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise AsteriskError(
                f"asterisk exited with {self._proc.returncode} while starting\n" + self.log_tail()
            )

    def stop(self) -> None:
        """`core stop now`; kill the process group if it is still there after stop_timeout."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            with contextlib.suppress(AsteriskError, subprocess.TimeoutExpired):
                self.cli("core stop now", timeout=self.stop_timeout)
            try:
                self._proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._proc = None
        self._close_console()

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)
        self._proc = None
        self._close_console()

    def _close_console(self) -> None:
        if self._console is not None:
            self._console.close()  # type: ignore[attr-defined]
            self._console = None

    def restart(self) -> None:
        """Stop and start again on the same AMI port, keeping recordings and logs."""
        self.stop()
        self.start(fresh=False)

    def kill(self) -> None:
        """SIGKILL, as a crashed switch would go."""
        self._kill()

    # ---- commands ----------------------------------------------------------------------
    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command (`asterisk -rx`) and return its output."""
        try:
            proc = subprocess.run(
                [
                    "chroot",
                    str(self.root),
                    "/usr/sbin/asterisk",
                    "-n",
                    "-C",
                    f"{self.inner_dir}/etc/asterisk.conf",
                    "-rx",
                    command,
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise AsteriskError(f"`{command}` took longer than {timeout} s") from exc
        if proc.returncode != 0 and not proc.stdout:
            raise AsteriskError(f"`{command}` failed: {proc.stderr.strip()}")
        return proc.stdout

    def __enter__(self) -> Asterisk:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
