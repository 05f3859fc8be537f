"""The callback service: schedules, dials (through the one `Dialler`) and follows
dropped-call callbacks.

Rule: a state change is stored (compare-and-set) before anything is dialled, so a crash
or a second instance can never place the same attempt twice. The decisions themselves
live in `callbacks` (pure); this module does the I/O.

An answered Originate leaves the attempt open: the call tracker's events of the callback
leg (`on_call_event`) move its stage on, and the attempt is settled as done once the
customer reached an agent (or the queue), or as a failed try when the leg ended short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hotline.core.bus import Bus, Message
from hotline.core.errors import Conflict, NotFound
from hotline.telephony import callbacks as policy_rules
from hotline.telephony.ami import AmiError, AmiUnavailable, OriginateResult, Originator
from hotline.telephony.callback_store import Attempt, Callback, CallbackStore
from hotline.telephony.callbacks import (
    AttemptStage,
    AttemptVerdict,
    CallbackPolicy,
    CallbackProgress,
    CallbackState,
    CallbackTransitionError,
    Verdict,
)
from hotline.telephony.dialler import Dialler, DialPlan, DialRefused, UnusableNumber
from hotline.telephony.model import CallEvent, CallRecord, Direction

__all__ = ["CallbackService", "DialPlan"]

log = logging.getLogger(__name__)


def progress_of(cb: Callback) -> CallbackProgress:
    return CallbackProgress(
        state=CallbackState(cb.status),
        attempts_made=cb.attempts_made,
        next_attempt_at=cb.next_attempt_at,
        last_attempt_at=cb.last_attempt_at,
        last_reason=cb.last_result,
    )


def payload(cb: Callback, **extra: object) -> dict[str, object]:
    return {
        "callback_id": cb.id,
        "call_id": cb.call_id,
        "number": cb.number,
        "reason": cb.reason,
        "connect_kind": cb.connect_kind,
        "connect_target": cb.connect_target,
        **extra,
    }


def dial_variables(cb: Callback) -> dict[str, str]:
    """Channel variables of the Originate, as [hotline-callback] in deploy/ reads them."""
    target = "HOTLINE_CALLBACK_AGENT" if cb.connect_kind == "agent" else "HOTLINE_QUEUE"
    variables = {"HOTLINE_CALLBACK_ID": str(cb.id), "HOTLINE_CALL_ID": cb.call_id}
    if cb.connect_target:
        variables[target] = cb.connect_target
    return variables


class CallbackService:
    def __init__(
        self,
        store: CallbackStore,
        policy: CallbackPolicy,
        dialplan: DialPlan,
        bus: Bus,
        originator: Originator | None,
        *,
        poll_s: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.policy = policy
        self.dialler = Dialler(originator, dialplan)
        self.bus = bus
        self.poll_s = poll_s
        self.clock = clock
        self._dialing: set[asyncio.Task[None]] = set()

    # --- scheduling ----------------------------------------------------------------------

    async def on_call_ended(self, record: CallRecord) -> Callback | None:
        plan = policy_rules.plan_callback(self.policy, record)
        if isinstance(plan, str):
            log.debug("no callback for call %s: %s", record.call_id, plan)
            return None
        cb = await self.store.create(
            call_id=plan.call_id,
            number=plan.number,
            reason=plan.reason,
            connect_kind=plan.connect_to_kind,
            connect_target=plan.connect_to_target,
            first_attempt_at=plan.first_attempt_at,
            now=self.clock(),
        )
        if cb is None:
            log.info("call %s already has a callback; not scheduling another", record.call_id)
            return None
        log.info("callback %d scheduled for call %s at %s", cb.id, cb.call_id, cb.next_attempt_at)
        await self.bus.publish(
            Message("callback/scheduled", payload(cb, next_attempt_at=cb.next_attempt_at))
        )
        return cb

    # --- supervisor actions --------------------------------------------------------------

    async def _get(self, callback_id: int) -> Callback:
        cb = await self.store.get(callback_id)
        if cb is None:
            raise NotFound(f"no callback with id {callback_id}; list them with GET /api/callbacks")
        return cb

    async def _store(
        self, cb: Callback, new: CallbackProgress, by: str | None, now: datetime
    ) -> Callback:
        ok = await self.store.save_progress(
            cb.id,
            expect=cb.status,
            status=new.state.value,
            attempts_made=new.attempts_made,
            next_attempt_at=new.next_attempt_at,
            last_attempt_at=new.last_attempt_at,
            last_result=new.last_reason,
            now=now,
            by=by,
        )
        if not ok:
            raise Conflict(
                f"callback {cb.id} changed while you acted on it (it was {cb.status}); "
                "reload it and try again"
            )
        return await self._get(cb.id)

    async def cancel(self, callback_id: int, by: str) -> Callback:
        cb = await self._get(callback_id)
        updated = await self._store(cb, policy_rules.cancel(progress_of(cb)), by, self.clock())
        await self.bus.publish(Message("callback/cancelled", payload(updated, by=by)))
        return updated

    async def retrigger(self, callback_id: int, by: str) -> Callback:
        cb = await self._get(callback_id)
        now = self.clock()
        new = policy_rules.retrigger(self.policy, progress_of(cb), now)
        updated = await self._store(cb, new, by, now)
        await self.bus.publish(
            Message(
                "callback/scheduled", payload(updated, by=by, next_attempt_at=new.next_attempt_at)
            )
        )
        return updated

    # --- dialling ------------------------------------------------------------------------

    async def recover(self) -> None:
        """Attempts cut off by a crash: their result is unknown, so count them and go on.
        One whose customer had answered waits for its leg instead (the call tracker
        restores the leg and ends it, as it ended or as cut)."""
        for cb in await self.store.dialing():
            attempt = await self.store.open_attempt(cb.id)
            if attempt is not None and attempt.stage != AttemptStage.ORIGINATED:
                log.info("callback %d: answered before the restart; waiting for its leg", cb.id)
                continue
            verdict = AttemptVerdict(Verdict.RETRY, "服务重启，上次呼叫结果未知")
            await self._finish(cb, attempt.action_id if attempt else None, verdict, None)

    # --- the callback leg ----------------------------------------------------------------

    async def on_call_event(self, event: CallEvent) -> None:
        """The call tracker's news of a call: for a callback leg, how far the customer got."""
        leg = event.record
        if leg.direction is not Direction.CALLBACK or leg.callback_id is None:
            return
        attempt = await self.store.advance_attempt(
            callback_id=leg.callback_id,
            stage=policy_rules.leg_stage(leg),
            leg_call_id=leg.call_id,
            leg_ended_at=leg.ended_at,
        )
        if attempt is not None:
            await self._settle(leg.callback_id, attempt)

    async def _settle(self, callback_id: int, attempt: Attempt) -> None:
        """Done, a failed try, or (None) still going: `judge_leg` on what is stored."""
        cb = await self.store.get(callback_id)
        if cb is None:
            return
        stage = AttemptStage(attempt.stage)
        verdict = policy_rules.judge_leg(
            cb.connect_kind, stage, ended := attempt.leg_ended_at is not None
        )
        if verdict is None:
            if not ended:
                await self.bus.publish(
                    Message(
                        "callback/progress",
                        payload(cb, action_id=attempt.action_id, stage=stage.value),
                    )
                )
            return
        await self._finish(cb, attempt.action_id, verdict, None)

    async def _watch_silent_legs(self) -> None:
        """An answered attempt still not connected `leg_wait_max_min` after it was dialled
        (its leg's events were lost) is a failed try."""
        limit = timedelta(minutes=self.policy.leg_wait_max_min)
        for cb, attempt in await self.store.awaiting_legs(self.clock() - limit):
            if attempt.stage == AttemptStage.ORIGINATED:
                continue  # the dial task is still waiting for the OriginateResponse
            log.warning("callback %d: no news of its leg after %s; retrying", cb.id, limit)
            verdict = AttemptVerdict(Verdict.RETRY, "客户接听后未收到通话结果，按未接通处理")
            await self._finish(cb, attempt.action_id, verdict, None)

    async def run(self) -> None:
        """Recover the attempts a crash cut off, then start due callbacks every `poll_s`;
        a failure of either (the database away at start too) is logged and tried again."""
        recovered = False
        while True:
            try:
                if not recovered:
                    await self.recover()
                    recovered = True
                await self.tick()
            except Exception:
                log.exception(
                    "callback scheduler %s failed; retrying", "tick" if recovered else "recovery"
                )
            await asyncio.sleep(self.poll_s)

    async def tick(self) -> int:
        """Start every due callback; returns how many were started."""
        if not self.dialler.ready:
            return 0
        await self._watch_silent_legs()
        started = 0
        for cb in await self.store.due(self.clock()):
            action_id = f"hotline-cb-{cb.id}-{uuid.uuid4().hex[:12]}"
            if not await self.store.begin_attempt(cb.id, action_id=action_id, now=self.clock()):
                continue
            started += 1
            task = asyncio.create_task(self._dial(cb, action_id), name=f"callback-{cb.id}")
            self._dialing.add(task)
            task.add_done_callback(self._dialing.discard)
        return started

    async def drain(self) -> None:
        """Wait for the attempts in flight (tests, shutdown)."""
        while self._dialing:
            await asyncio.gather(*self._dialing, return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._dialing):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._dialing, return_exceptions=True)

    async def _dial(self, cb: Callback, action_id: str) -> None:
        attempt_no = cb.attempts_made + 1
        await self.bus.publish(
            Message("callback/attempted", payload(cb, attempt=attempt_no, action_id=action_id))
        )
        result: OriginateResult | None = None
        refused: DialRefused | None = None
        try:
            result = await self.dialler.dial(
                cb.number, variables=dial_variables(cb), action_id=action_id
            )
            if result.success:  # the line answered: the leg tells whether it connected
                attempt = await self.store.advance_attempt(
                    callback_id=cb.id,
                    action_id=action_id,
                    stage=AttemptStage.CUSTOMER_ANSWERED,
                    uniqueid=result.uniqueid,
                )
                if attempt is not None:
                    await self._settle(cb.id, attempt)
                return
            verdict = policy_rules.classify_attempt(result.success, result.reason_code)
        except AmiUnavailable as exc:
            verdict = AttemptVerdict(Verdict.RETRY, f"与交换机的连接中断 ({exc})")
        except DialRefused as exc:
            refused = exc
            verdict = policy_rules.classify_refusal(exc.reason, permanent=exc.permanent)
        except UnusableNumber as exc:
            verdict = AttemptVerdict(Verdict.FAILED_PERMANENT, exc.message)
        except AmiError as exc:
            verdict = AttemptVerdict(Verdict.RETRY, f"交换机拒绝了呼叫 ({exc})")
        except Exception as exc:
            log.exception("callback %d: originate failed unexpectedly", cb.id)
            verdict = AttemptVerdict(Verdict.RETRY, f"呼叫出错 ({exc})")
        await self._finish(cb, action_id, verdict, result)
        if refused is not None and refused.permanent:
            await self.bus.publish(
                Message(
                    "alert/callback_refused",
                    payload(
                        cb,
                        action_id=action_id,
                        switch_reason=refused.reason,
                        context=self.dialler.plan.context,
                        extension=self.dialler.plan.extension,
                    ),
                )
            )

    async def _finish(
        self,
        cb: Callback,
        action_id: str | None,
        verdict: AttemptVerdict,
        result: OriginateResult | None,
    ) -> None:
        now = self.clock()
        if action_id is not None:
            first = await self.store.finish_attempt(
                action_id,
                now=now,
                verdict=verdict.verdict.value,
                reason_code=verdict.reason_code,
                reason_text=verdict.reason_text,
                uniqueid=result.uniqueid if result else None,
            )
            if not first:
                return  # settled already (its leg and its OriginateResponse crossed)
        current = await self._get(cb.id)
        try:
            new = policy_rules.record_attempt(self.policy, progress_of(current), verdict, now)
        except CallbackTransitionError:
            log.info(
                "callback %d was %s meanwhile; result %s kept in its attempt log",
                cb.id,
                current.status,
                verdict.reason_text,
            )
            return
        updated = await self._store(current, new, None, now)
        topic = {
            CallbackState.DONE: "callback/done",
            CallbackState.SCHEDULED: "callback/retry",
        }.get(new.state, "callback/failed")
        await self.bus.publish(
            Message(
                topic,
                payload(
                    updated,
                    status=updated.status,
                    result=verdict.reason_text,
                    next_attempt_at=updated.next_attempt_at,
                ),
            )
        )
