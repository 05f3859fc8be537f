"""Real SIP phones for the switch tests: sipp (Debian's `sip-tester`) over loopback.

The one rule: a phone is a real SIP user agent registered to the switch's PJSIP, so the
switch's device states (not in use, ringing, in use, unavailable) are its own: nothing
here tells Asterisk what state a phone is in.

`SipPhone(ext, switch_port)`: `register()` sends REGISTER (Contact on the phone's own
port), `answer(after_s)` runs a UAS on that port that rings (180) for `after_s` seconds,
answers (200 with a PCMU SDP; sipp sends no media) and holds the call until the switch
sends BYE; a CANCEL while it rings is answered 200 + 487. `unregister()` (Expires: 0)
makes the endpoint unavailable; `stop()` ends the UAS.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.switch.asterisk import AsteriskError, free_udp_port

SIPP = "sipp"

REGISTER_XML = """<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="hotline phone register">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[service]@[remote_ip]:[remote_port]>;tag=[pid]reg[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>
Expires: [expires]
Max-Forwards: 70
User-Agent: hotline-test-phone
Content-Length: 0

]]></send>
  <recv response="200" timeout="5000"/>
</scenario>
"""

UAS_XML = """<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="hotline phone answers after [answer_ms] ms">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]phone[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
  <recv request="CANCEL" timeout="[answer_ms]" ontimeout="answer" next="cancelled"/>
  <label id="answer"/>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]phone[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=phone 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv

]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <nop next="end"/>
  <label id="cancelled"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]phone[call_number]
[last_Call-ID:]
CSeq: [last_cseq_number] INVITE
Content-Length: 0

]]></send>
  <recv request="ACK"/>
  <label id="end"/>
</scenario>
"""


def have_sipp() -> None:
    """Install sipp (Debian: sip-tester) when missing; fail with the reason otherwise."""
    if shutil.which(SIPP):
        return
    proc = subprocess.run(
        [
            "apt-get",
            "-o",
            "DPkg::Lock::Timeout=300",
            "install",
            "-y",
            "-q",
            "sip-tester",
        ],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0 or not shutil.which(SIPP):
        raise AsteriskError(f"sipp (Debian package sip-tester) is missing:\n{proc.stderr[-2000:]}")


@dataclass
class SipPhone:
    """One agent's phone: PJSIP endpoint `ext` of the test switch, on its own UDP port."""

    ext: str
    switch_port: int
    workdir: Path
    port: int = field(default_factory=free_udp_port)
    after_s: float = 1.0  # how long it rings before answering
    _uas: subprocess.Popen[bytes] | None = None

    def _run(self, scenario: Path, *args: str, timeout: float = 15) -> None:
        proc = subprocess.run(
            [
                SIPP,
                f"127.0.0.1:{self.switch_port}",
                "-sf",
                str(scenario),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-s",
                self.ext,
                "-m",
                "1",
                "-nostdin",
                "-timeout",
                "10s",
                *args,
            ],
            cwd=self.workdir,
            capture_output=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise AsteriskError(
                f"sipp {scenario.name} for {self.ext} failed (exit {proc.returncode}):\n"
                + proc.stdout.decode(errors="replace")[-1500:]
            )

    def _scenario(self, name: str, text: str) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / name
        path.write_text(text)
        return path

    def register(self, expires: int = 3600) -> None:
        was_serving = self._uas is not None
        self.stop()  # one process per port: the UAS gives way to the REGISTER
        self._run(self._scenario("register.xml", REGISTER_XML), "-key", "expires", str(expires))
        if was_serving and expires:
            self.answer(self.after_s)

    def unregister(self) -> None:
        self.register(expires=0)

    def answer(self, after_s: float = 1.0) -> None:
        """Serve calls: ring `after_s` seconds, answer, hold until BYE."""
        self.stop()
        self.after_s = after_s
        scenario = self._scenario(
            f"uas-{self.ext}.xml",
            UAS_XML.replace("[answer_ms]", str(max(1, round(after_s * 1000)))),
        )
        log = open(self.workdir / f"uas-{self.ext}.log", "ab")  # noqa: SIM115 - the child keeps it
        self._uas = subprocess.Popen(
            [
                SIPP,
                "-sf",
                str(scenario),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-s",
                self.ext,
                "-nostdin",
                "-trace_err",
            ],
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        time.sleep(0.3)
        if self._uas.poll() is not None:
            raise AsteriskError(
                f"sipp UAS for {self.ext} exited at once: "
                + (self.workdir / f"uas-{self.ext}.log").read_text(errors="replace")[-1500:]
            )

    def stop(self) -> None:
        uas, self._uas = self._uas, None
        if uas is None or uas.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(uas.pid, signal.SIGTERM)
        try:
            uas.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(uas.pid, signal.SIGKILL)
            uas.wait(timeout=5)
