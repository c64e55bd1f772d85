"""Executors: who carries out an action once the board has journaled ``firing``.

Chosen per action type in config (``actions.executors``):

* ``manual`` — most platforms allow no automation, so the honest default is
  to tell the 场控 exactly what to click (the board puts the instruction in
  the ``firing`` note and the actions pane) and wait for their key
  (:meth:`ActionBoard.done`). Nothing to send.
* ``webhook`` — an HTTP POST (aiohttp) to the team's automation or an internal
  platform API. The JSON body is the same bytes on every attempt; the
  ``Idempotency-Key`` header is the action's key, the same across retries
  *and restarts* (it comes from the journal), so the endpoint can apply each
  action once (Stripe's semantics). A ``t=<unix>,v1=<hex>`` HMAC-SHA256
  signature over ``"<t>." + body`` lets it reject forgeries and replays; the
  secret comes from an environment variable named in config. Each attempt has
  short explicit timeouts; only connection errors, timeouts, 429 and 5xx are
  retried, with full-jitter exponential backoff (``Retry-After`` honoured);
  any other answer fails the action at once. Past the action's deadline it is
  abandoned — reported, never sent late.
* ``dry-run`` — records what would happen and reports it done (rehearsal,
  ``analyze``).

Executors never change state themselves: they report to the board, which
journals first. They are handed an action only once its ``firing`` record is
durable (:class:`Executors` waits on the journal's commit when the journal
writes in the background).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Callable
from typing import Literal, Protocol

import aiohttp
import msgspec

from console.core.actions import Action, ParamError, WebhookConfig, describe

log = logging.getLogger("changkong.actions")

Outcome = Literal["fired", "failed", "abandoned"]


class Reporter(Protocol):
    """The part of :class:`~console.core.actions.ActionBoard` an executor talks to."""

    def now(self) -> float: ...

    def report(self, action_id: str, outcome: Outcome, reason: str, *, t: float | None = None) -> bool: ...

    def attempt(self, action_id: str, detail: str, *, t: float | None = None) -> None: ...


class Executor(Protocol):
    name: str

    def start(self, action: Action, board: Reporter) -> None:
        """Begin carrying out ``action`` (never blocks); report through ``board``."""
        ...

    async def aclose(self) -> None: ...


class ManualExecutor:
    """The 场控 does it by hand: the instruction is already on screen; wait for their key."""

    name = "manual"

    def start(self, action: Action, board: Reporter) -> None:
        log.info("manual action %s: waiting for the 场控 (%s)", action.action_id, action.reason)

    async def aclose(self) -> None:
        return None


class DryRunExecutor:
    """Records what would happen and reports it done at once (same clock time: replay stays exact)."""

    name = "dry-run"

    def __init__(self) -> None:
        self.records: list[Action] = []

    def start(self, action: Action, board: Reporter) -> None:
        self.records.append(action)
        try:
            what = describe(action.type, action.spec)
        except ParamError:
            what = action.type
        board.report(action.action_id, "fired", f"dry-run: recorded — would {what}", t=action.firing_at)

    async def aclose(self) -> None:
        return None


# --------------------------------------------------------------------------
# webhook
# --------------------------------------------------------------------------


def sign(secret: bytes, body: bytes, ts: int) -> str:
    """The signature header's value: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""
    mac = hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def check_signature(secret: bytes, body: bytes, header: str, *, now: float, tolerance: float = 300.0) -> bool:
    """What a receiver does: the MAC matches and the timestamp is recent (no replays of old requests)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, ts).split("v1=", 1)[1], given)


class _Body(msgspec.Struct, kw_only=True):
    idempotency_key: str
    show_id: str
    action_id: str
    name: str
    type: str
    trigger: str
    occurrence: int
    due: float
    params: dict[str, object]


_body_encoder = msgspec.json.Encoder()


def webhook_body(action: Action, show_id: str) -> bytes:
    """The request body: only journaled fields, so every attempt and every restart sends the same bytes."""
    return _body_encoder.encode(
        _Body(
            idempotency_key=action.key,
            show_id=show_id,
            action_id=action.action_id,
            name=action.name,
            type=action.type,
            trigger=action.trigger,
            occurrence=action.occurrence,
            due=action.due,
            params=action.params,
        )
    )


_RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectionError,  # refused, reset, dropped, server disconnected, connect timeout
    aiohttp.ClientPayloadError,  # the answer was cut off
    TimeoutError,  # the whole attempt took longer than its timeout
)


class WebhookExecutor:
    """POSTs each action until it is accepted, refused, or past its deadline. See the module docstring."""

    name = "webhook"

    def __init__(
        self,
        config: WebhookConfig,
        secret: bytes,
        *,
        show_id: str,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not config.url:
            raise ValueError("the webhook executor needs actions.webhook.url")
        self.config = config
        self.url = config.url
        self.secret = secret
        self.show_id = show_id
        self.rng = rng or random.Random()
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: actions handed over before an event loop ran (a restart resumes them at once)
        self._backlog: list[tuple[Action, Reporter]] = []
        self.attempts = 0

    def start(self, action: Action, board: Reporter) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._backlog.append((action, board))
            return
        task = loop.create_task(self._send(action, board), name=f"webhook {action.action_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def resume_backlog(self) -> None:
        """Start what was handed over before the loop ran (call from inside the loop)."""
        backlog, self._backlog = self._backlog, []
        for action, board in backlog:
            self.start(action, board)

    @property
    def in_flight(self) -> int:
        return len(self._tasks) + len(self._backlog)

    async def aclose(self) -> None:
        """Stop sending. What is in flight stays ``firing`` in the journal: the next start re-sends it."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64),
                headers={"User-Agent": "changkong-actions/1"},
            )
        return self._session

    async def _send(self, action: Action, board: Reporter) -> None:
        cfg = self.config
        aid = action.action_id
        body = webhook_body(action, self.show_id)
        attempt = 0
        maybe_applied = False  # an attempt may have reached the endpoint
        last = "not sent"
        while True:
            remaining = action.deadline - board.now()
            if remaining <= 0:
                hint = (
                    " — an earlier attempt may have reached it; it dedupes by the key"
                    if maybe_applied
                    else ""
                )
                board.report(
                    aid, "abandoned", f"deadline passed after {attempt} attempt(s), last: {last}{hint}"
                )
                return
            if attempt >= cfg.max_attempts:
                hint = (
                    " — one may have reached it; re-sending with the same key is safe"
                    if maybe_applied
                    else ""
                )
                board.report(aid, "failed", f"gave up after {attempt} attempts, last: {last}{hint}")
                return
            attempt += 1
            self.attempts += 1
            retry_after: float | None = None
            started = time.monotonic()
            ts = int(self._clock())
            headers = {
                "Content-Type": "application/json",
                "Idempotency-Key": action.key,
                cfg.signature_header: sign(self.secret, body, ts),
                "X-Changkong-Attempt": str(attempt),
            }
            timeout = aiohttp.ClientTimeout(
                total=min(cfg.timeout, remaining),
                sock_connect=min(cfg.connect_timeout, remaining),
            )
            try:
                async with self._client().post(
                    self.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
                ) as resp:
                    status = resp.status
                    text = (await resp.content.read(300)).decode("utf-8", "replace")
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
            except _RETRYABLE_ERRORS as exc:
                maybe_applied = True
                last = f"{type(exc).__name__}{': ' + str(exc) if str(exc) else ''}"[:200]
            except aiohttp.ClientError as exc:
                board.report(aid, "failed", f"cannot send: {type(exc).__name__}: {exc}"[:300])
                return
            else:
                ms = (time.monotonic() - started) * 1000
                if 200 <= status < 300:
                    board.report(aid, "fired", f"HTTP {status} in {ms:.0f} ms (attempt {attempt})")
                    return
                if status == 429 or status >= 500:
                    maybe_applied = maybe_applied or status >= 500
                    last = f"HTTP {status}"
                else:
                    board.report(aid, "failed", f"HTTP {status}: {text.strip()[:200]} (not retried)")
                    return
            board.attempt(aid, f"attempt {attempt}: {last}")
            delay = self.rng.uniform(0, min(cfg.max_backoff, cfg.backoff * 2 ** (attempt - 1)))
            if retry_after is not None:
                delay = max(delay, min(retry_after, cfg.max_backoff * 4))
            delay = min(delay, max(0.0, action.deadline - board.now()))
            await asyncio.sleep(delay)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare from APIs; the backoff applies
    return max(0.0, seconds)


# --------------------------------------------------------------------------
# the dispatcher the board calls
# --------------------------------------------------------------------------


class Executors:
    """Routes each action to the executor its journaled intent names (so a restart uses the same one).

    With a ``barrier`` (the journal's :meth:`~console.adapters.journal.Journal.after_commit`)
    an action reaches its executor only once the ``firing`` record that handed it over is
    durable: a journal that commits in the background never lets a request leave ahead of
    its record. A handover whose record was lost is dropped (the board puts the action back).
    """

    def __init__(
        self,
        executors: dict[str, Executor],
        *,
        barrier: Callable[[Callable[[bool], None]], None] | None = None,
    ) -> None:
        self.executors = executors
        self.board: Reporter | None = None
        self.barrier = barrier
        #: handed over, waiting for their record to be durable
        self.waiting = 0
        self.closed = False

    def bind(self, board: Reporter) -> None:
        self.board = board

    def __call__(self, action: Action) -> None:
        board = self.board
        assert board is not None, "bind the board first"
        barrier = self.barrier
        if barrier is None:
            self._start(action, board)
            return
        self.waiting += 1

        def durable(ok: bool) -> None:
            self.waiting -= 1
            if not ok:
                log.error("action %s: its firing record was lost; not sent", action.action_id)
            elif not self.closed:  # closed: it stays firing in the journal and is re-sent on the next start
                self._start(action, board)

        barrier(durable)

    def _start(self, action: Action, board: Reporter) -> None:
        executor = self.executors.get(action.executor)
        if executor is None:
            board.report(
                action.action_id, "failed", f"executor {action.executor!r} is not available in this run"
            )
            return
        executor.start(action, board)

    def resume_backlog(self) -> None:
        for executor in self.executors.values():
            if isinstance(executor, WebhookExecutor):
                executor.resume_backlog()

    @property
    def in_flight(self) -> int:
        sending = sum(e.in_flight for e in self.executors.values() if isinstance(e, WebhookExecutor))
        return self.waiting + sending

    async def aclose(self) -> None:
        self.closed = True
        for executor in self.executors.values():
            await executor.aclose()
