"""Live events: one background task polls cheap high-water marks of the databases
once a second and fans every change out to all connected clients as
server-sent events.

Workers run in other processes, maybe on other machines, so nothing can push to
the server; polling a handful of indexed MAX/COUNT values is cheap and, being one
task for all clients, costs the same for one browser or a hundred.

Event types (the ``event:`` field; ``data:`` is a JSON object):

* ``hello``: sent on connect, with the current marks;
* ``group``: a group's state or bookkeeping changed (group_id, state, last_update...);
* ``image``: a new image (id, path, type, field_name...);
* ``candidate``: an ESE candidate was created, flagged again, or changed status
  (id, source_id, status in the API's words...);
* ``candidates``: candidate notes changed (no ids: refetch);
* ``mosaic``: a new mosaic (id, name, path...).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from contimg.db.engine import Databases
from contimg.db.queries import live

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    id: int = 0

    def encode(self) -> str:
        body = json.dumps(self.data, default=str)
        return f"id: {self.id}\nevent: {self.type}\ndata: {body}\n\n"


@dataclass
class _Marks:
    ingest: live.IngestMarks | None = None
    products: live.ProductMarks | None = None


@dataclass
class EventHub:
    """Polls the databases in one task and fans events out to subscriber queues."""

    dbs: Databases
    poll_s: float = 1.0
    queue_size: int = 1000
    _clients: set[asyncio.Queue[Event | None]] = field(default_factory=set)
    _marks: _Marks = field(default_factory=_Marks)
    _task: asyncio.Task[None] | None = None
    _next_id: int = 0
    polls: int = 0

    # ------------------------------------------------------------------ clients

    def subscribe(self) -> asyncio.Queue[Event | None]:
        q: asyncio.Queue[Event | None] = asyncio.Queue(self.queue_size)
        self._clients.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event | None]) -> None:
        self._clients.discard(q)

    @property
    def n_clients(self) -> int:
        return len(self._clients)

    def publish(self, type_: str, data: dict[str, Any]) -> None:
        self._next_id += 1
        event = Event(type_, data, self._next_id)
        for q in list(self._clients):
            if q.full():  # a stalled client loses its oldest event, never blocks others
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
            q.put_nowait(event)

    def hello(self) -> Event:
        marks = {
            "ingest": asdict(self._marks.ingest) if self._marks.ingest else None,
            "products": asdict(self._marks.products) if self._marks.products else None,
            "poll_s": self.poll_s,
        }
        return Event("hello", marks, self._next_id)

    # ------------------------------------------------------------------ polling

    def poll_once(self) -> list[tuple[str, dict[str, Any]]]:
        """Read the marks and return the events since the previous poll (the first
        poll only sets the baseline). Runs in a worker thread."""
        out: list[tuple[str, dict[str, Any]]] = []
        with self.dbs.ingest.read() as conn:
            im = live.ingest_marks(conn)
            prev_i = self._marks.ingest
            if prev_i is not None and (
                im.last_update > prev_i.last_update or im.n_groups != prev_i.n_groups
            ):
                for row in live.groups_updated_since(conn, last_update=prev_i.last_update):
                    out.append(("group", asdict(row)))
        with self.dbs.products.read() as conn:
            pm = live.product_marks(conn)
            prev = self._marks.products
            if prev is not None:
                if pm.image_id > prev.image_id:
                    out += [
                        ("image", asdict(r))
                        for r in live.images_after(conn, image_id=prev.image_id)
                    ]
                if pm.candidate_id > prev.candidate_id or (
                    pm.candidate_change_at > prev.candidate_change_at
                ):
                    for r in live.candidates_changed(
                        conn, candidate_id=prev.candidate_id, since=prev.candidate_change_at
                    ):
                        out.append(("candidate", asdict(r)))
                if pm.candidate_notes_len != prev.candidate_notes_len:
                    out.append(("candidates", {"reason": "notes changed"}))
                if pm.mosaic_id > prev.mosaic_id:
                    out += [
                        ("mosaic", asdict(r))
                        for r in live.mosaics_after(conn, mosaic_id=prev.mosaic_id)
                    ]
        self._marks = _Marks(ingest=im, products=pm)
        self.polls += 1
        return out

    async def run(self) -> None:
        """Poll forever (until cancelled), publishing what changed."""
        failing = False
        while True:
            try:
                events = await asyncio.to_thread(self.poll_once)
                failing = False
            except SQLAlchemyError as exc:  # a database away for a moment: retry
                if not failing:
                    log.warning("live events: cannot poll the databases: %s", exc)
                failing = True
                events = []
            for type_, data in events:
                self.publish(type_, data)
            await asyncio.sleep(self.poll_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="contimg-events")

    async def stop(self) -> None:
        for q in list(self._clients):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)  # ends each stream
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


async def stream(hub: EventHub, *, keepalive_s: float) -> AsyncIterator[str]:
    """The text of one client's event stream."""
    q = hub.subscribe()
    try:
        yield "retry: 2000\n\n"
        yield hub.hello().encode()
        while True:
            try:
                event = await asyncio.wait_for(q.get(), timeout=keepalive_s)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if event is None:
                return
            yield event.encode()
    finally:
        hub.unsubscribe(q)
