import { describe, expect, it } from "vitest";
import type { SourceCandidates } from "../data/types";
import { withKept } from "./Candidates";

const row = (source_id: string, status: SourceCandidates["status"] = "active"): SourceCandidates => ({
  source_id,
  ra_deg: 1,
  dec_deg: 2,
  significance: 5,
  max_sigma_dev: 5,
  baseline_flux_jy: 0.1,
  peak_flux_jy: 0.05,
  first_detection_at: null,
  last_detection_at: null,
  flagged_at: null,
  status,
  flags: [],
});

describe("candidates: a row changed in the view stays", () => {
  it("keeps a changed row at its place after the refetch drops it", () => {
    const kept = new Map([["B", { row: row("B", "investigated"), index: 1 }]]);
    expect(withKept([row("A"), row("C")], kept).map((r) => [r.source_id, r.status])).toEqual([
      ["A", "active"],
      ["B", "investigated"],
      ["C", "active"],
    ]);
  });
  it("shows a row still fetched as fetched, and nothing extra without changes", () => {
    const kept = new Map([["A", { row: row("A", "investigated"), index: 0 }]]);
    expect(withKept([row("A", "dismissed")], kept).map((r) => r.status)).toEqual(["dismissed"]);
    expect(withKept([row("A")], new Map()).length).toBe(1);
  });
});
