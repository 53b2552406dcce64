import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";
import { applyEvent, connectEvents, keysForEvent, type EventSourceLike, type LiveState } from "./events";

/** A stand-in for EventSource that the test drives by hand. */
class FakeSource implements EventSourceLike {
  listeners = new Map<string, ((e: MessageEvent) => void)[]>();
  onopen: ((e: Event) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  closed = false;
  addEventListener(type: string, fn: (e: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  emit(type: string, data: unknown) {
    for (const fn of this.listeners.get(type) ?? []) fn(new MessageEvent(type, { data: JSON.stringify(data) }));
  }
  close() {
    this.closed = true;
  }
}

function seededClient() {
  const qc = new QueryClient();
  const keys = [
    ["status"],
    ["groups", { limit: 50, offset: 0 }],
    ["group", "2026-11-25T10:00:00"],
    ["group", "2026-11-25T11:00:00"],
    ["images", { limit: 6 }],
    ["candidates", { status: ["active"] }],
    ["source", "NVSS J1", "lightcurve"],
    ["source", "NVSS J2"],
    ["mosaics", { limit: 24 }],
    ["calibration", "sets"],
    ["health"],
  ];
  for (const k of keys) qc.setQueryData(k, { seeded: true });
  return qc;
}

const stale = (qc: QueryClient) =>
  qc
    .getQueryCache()
    .getAll()
    .filter((q) => q.state.isInvalidated)
    .map((q) => JSON.stringify(q.queryKey))
    .sort();

describe("event -> query invalidation", () => {
  it("a group event refreshes status, health, the group lists and that group only", () => {
    const qc = seededClient();
    applyEvent(qc, "group", { group_id: "2026-11-25T10:00:00", state: "completed" });
    expect(stale(qc)).toEqual(
      [
        '["group","2026-11-25T10:00:00"]',
        '["groups",{"limit":50,"offset":0}]',
        '["health"]',
        '["status"]',
      ].sort(),
    );
  });
  it("a candidate event refreshes candidate lists and its source", () => {
    const qc = seededClient();
    applyEvent(qc, "candidate", { id: 3, source_id: "NVSS J1", status: "investigated" });
    expect(stale(qc)).toEqual(['["candidates",{"status":["active"]}]', '["source","NVSS J1","lightcurve"]', '["status"]'].sort());
  });
  it("an image event refreshes images and every source (new photometry)", () => {
    const qc = seededClient();
    applyEvent(qc, "image", { id: 9 });
    expect(stale(qc)).toEqual(
      ['["images",{"limit":6}]', '["source","NVSS J1","lightcurve"]', '["source","NVSS J2"]', '["status"]'].sort(),
    );
  });
  it("a mosaic event refreshes mosaics; unknown events change nothing", () => {
    const qc = seededClient();
    applyEvent(qc, "mosaic", { id: 1 });
    expect(stale(qc)).toEqual(['["mosaics",{"limit":24}]']);
    expect(keysForEvent("hello")).toEqual([]);
  });
});

describe("the event stream", () => {
  it("reports its state, applies events, and refetches everything after a drop", () => {
    const qc = seededClient();
    const fake = new FakeSource();
    const states: LiveState[] = [];
    const stop = connectEvents(qc, (s) => states.push(s), () => fake);
    expect(states).toEqual(["connecting"]);
    fake.onopen?.(new Event("open"));
    expect(states.at(-1)).toBe("live");
    fake.emit("mosaic", { id: 2 });
    expect(stale(qc)).toEqual(['["mosaics",{"limit":24}]']);

    const spy = vi.spyOn(qc, "invalidateQueries");
    fake.onerror?.(new Event("error"));
    expect(states.at(-1)).toBe("reconnecting");
    fake.onopen?.(new Event("open"));
    expect(spy).toHaveBeenCalledWith(); // everything: events may have been missed
    stop();
    expect(fake.closed).toBe(true);
  });
  it("tolerates an event without a JSON body", () => {
    const qc = seededClient();
    const fake = new FakeSource();
    connectEvents(qc, () => {}, () => fake);
    for (const fn of fake.listeners.get("candidates") ?? []) fn(new MessageEvent("candidates", { data: "not json" }));
    expect(stale(qc)).toContain('["candidates",{"status":["active"]}]');
  });
});
