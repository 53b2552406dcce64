"""The live-events stream."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from contimg.api.deps import ReadAccess, State
from contimg.api.events import stream

router = APIRouter(tags=["events"], dependencies=[ReadAccess])


@router.get(
    "/events",
    summary="Live events (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream."}},
)
def events(state: State) -> StreamingResponse:
    """A ``text/event-stream`` of ``group``, ``image``, ``candidate``, ``candidates``
    and ``mosaic`` events (JSON data), within about a second of the change; a
    ``hello`` event first, and a comment line on idle streams. See docs/api.md."""
    return StreamingResponse(
        stream(state.events, keepalive_s=state.settings.api.events_keepalive_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
