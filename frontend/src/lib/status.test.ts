import { describe, expect, it } from "vitest";
import {
  CANDIDATE_STATUSES,
  GROUP_STATES,
  canMoveCandidate,
  canRetry,
  candidateStatusLabel,
  candidateStatusTone,
  groupStateLabel,
  groupStateTone,
  sigmaTone,
  validityOf,
  validityTone,
} from "./status";

describe("group states", () => {
  it("covers the spec's state machine", () => {
    expect(GROUP_STATES).toEqual(["collecting", "pending", "in_progress", "processing_fresh", "completed", "failed"]);
  });
  it("maps states to labels and tones", () => {
    expect(groupStateLabel("in_progress")).toBe("in progress");
    expect(groupStateTone("failed")).toBe("bad");
    expect(groupStateTone("completed")).toBe("ok");
    expect(groupStateTone("processing_fresh")).toBe("progress");
    expect(groupStateTone("something new")).toBe("neutral");
    expect(groupStateLabel("something new")).toBe("something new");
  });
  it("offers retry only for failed groups", () => {
    expect(GROUP_STATES.filter(canRetry)).toEqual(["failed"]);
  });
});

describe("candidate statuses", () => {
  it("shows the table's words for the API's words", () => {
    expect(CANDIDATE_STATUSES.map(candidateStatusLabel)).toEqual(["active", "investigated", "dismissed"]);
    expect(candidateStatusTone("active")).toBe("warn");
    expect(candidateStatusTone("dismissed")).toBe("muted");
  });
});

describe("candidate workflow", () => {
  it("allows active -> investigated -> dismissed and back to active, nothing else", () => {
    expect(canMoveCandidate("active", "investigated")).toBe(true);
    expect(canMoveCandidate("active", "dismissed")).toBe(true);
    expect(canMoveCandidate("investigated", "dismissed")).toBe(true);
    expect(canMoveCandidate("investigated", "active")).toBe(true);
    expect(canMoveCandidate("dismissed", "active")).toBe(true);
    expect(canMoveCandidate("dismissed", "investigated")).toBe(false);
    expect(canMoveCandidate("active", "active")).toBe(false);
  });
});

describe("calibration validity", () => {
  it("places a window relative to now", () => {
    expect(validityOf(10, 11, 10.5)).toBe("current");
    expect(validityOf(10, 11, 9)).toBe("future");
    expect(validityOf(10, 11, 12)).toBe("expired");
    expect(validityOf(10, 11, 11)).toBe("current");
  });
  it("mutes inactive sets whatever their window", () => {
    expect(validityTone("current", false)).toBe("muted");
    expect(validityTone("current", true)).toBe("ok");
  });
});

describe("significance tones", () => {
  it("marks 3 and 5 sigma", () => {
    expect(sigmaTone(2.9)).toBe("neutral");
    expect(sigmaTone(3)).toBe("warn");
    expect(sigmaTone(5)).toBe("bad");
    expect(sigmaTone(null)).toBe("neutral");
  });
});
