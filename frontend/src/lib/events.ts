/**
 * Live updates: the server's event stream (`/api/v1/events`, server-sent events)
 * mapped onto the TanStack Query cache. Each event invalidates the queries whose
 * data it changes; active queries refetch at once, so a page reflects a change
 * about one poll period (1 s) after it reaches the database.
 *
 * Event types (see src/contimg/api/events.py): hello, group, image, candidate,
 * candidates, mosaic.
 */
import type { QueryClient, QueryKey } from "@tanstack/react-query";

export const EVENT_TYPES = ["group", "image", "candidate", "candidates", "mosaic"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Query keys (prefixes) that an event makes stale. */
export function keysForEvent(type: string, data: Record<string, unknown> = {}): QueryKey[] {
  switch (type) {
    case "group": {
      const keys: QueryKey[] = [["status"], ["groups"], ["performance"], ["health"]];
      if (typeof data.group_id === "string") keys.push(["group", data.group_id]);
      return keys;
    }
    case "image":
      // A new image brings new photometry: light curves and variability move too.
      return [["status"], ["images"], ["sources"], ["source"], ["latest-images"]];
    case "candidate": {
      const keys: QueryKey[] = [["candidates"], ["status"]];
      if (typeof data.id === "number") keys.push(["candidate", data.id]);
      if (typeof data.source_id === "string") keys.push(["source", data.source_id]);
      return keys;
    }
    case "candidates":
      return [["candidates"], ["candidate"]];
    case "mosaic":
      return [["mosaics"]];
    default:
      return [];
  }
}

/** Invalidate everything an event touches. Returns the keys (for tests and logs). */
export function applyEvent(qc: QueryClient, type: string, data: Record<string, unknown> = {}): QueryKey[] {
  const keys = keysForEvent(type, data);
  for (const queryKey of keys) void qc.invalidateQueries({ queryKey });
  return keys;
}

export type LiveState = "connecting" | "live" | "reconnecting" | "unsupported";

/** Minimal EventSource surface, so tests can pass a fake. */
export interface EventSourceLike {
  addEventListener(type: string, fn: (e: MessageEvent) => void): void;
  onopen: ((e: Event) => void) | null;
  onerror: ((e: Event) => void) | null;
  close(): void;
}

/**
 * Subscribe to the stream. On (re)connection after a drop, every query is
 * invalidated, because events sent while disconnected were lost.
 */
export function connectEvents(
  qc: QueryClient,
  onState: (s: LiveState, lastEvent?: string) => void,
  make?: (url: string) => EventSourceLike,
  url = "/api/v1/events",
): () => void {
  if (!make && typeof EventSource === "undefined") {
    onState("unsupported");
    return () => {};
  }
  const es = make ? make(url) : (new EventSource(url) as unknown as EventSourceLike);
  let dropped = false;
  onState("connecting");
  es.onopen = () => {
    if (dropped) void qc.invalidateQueries();
    dropped = false;
    onState("live");
  };
  es.onerror = () => {
    dropped = true;
    onState("reconnecting");
  };
  es.addEventListener("hello", () => onState("live"));
  for (const type of EVENT_TYPES) {
    es.addEventListener(type, (e: MessageEvent) => {
      let data: Record<string, unknown> = {};
      try {
        data = JSON.parse(String(e.data)) as Record<string, unknown>;
      } catch {
        // an event without a JSON body still invalidates by type
      }
      applyEvent(qc, type, data);
      onState("live", `${type} ${new Date().toISOString().slice(11, 19)} UTC`);
    });
  }
  return () => es.close();
}
