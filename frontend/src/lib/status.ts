/**
 * How states and statuses look: one mapping from a pipeline word to a label and a
 * tone (a calm colour family defined in styles.css as `.tone-<tone>`).
 */

export type Tone = "neutral" | "info" | "progress" | "ok" | "warn" | "bad" | "muted";

export const GROUP_STATES = [
  "collecting",
  "pending",
  "in_progress",
  "processing_fresh",
  "completed",
  "failed",
] as const;
export type GroupState = (typeof GROUP_STATES)[number];

const GROUP_TONES: Record<GroupState, Tone> = {
  collecting: "neutral",
  pending: "info",
  in_progress: "progress",
  processing_fresh: "progress",
  completed: "ok",
  failed: "bad",
};

const GROUP_LABELS: Record<GroupState, string> = {
  collecting: "collecting",
  pending: "pending",
  in_progress: "in progress",
  processing_fresh: "processing (fresh)",
  completed: "completed",
  failed: "failed",
};

export function groupStateTone(state: string): Tone {
  return (GROUP_TONES as Record<string, Tone>)[state] ?? "neutral";
}

export function groupStateLabel(state: string): string {
  return (GROUP_LABELS as Record<string, string>)[state] ?? state;
}

/** Whether a group in this state may be retried by an operator. */
export function canRetry(state: string): boolean {
  return state === "failed";
}

/** ESE candidate statuses: the words the database stores and the API and CLI take
 * and return (the spec's resolved / false_positive are only the API's `spec_status`;
 * the one mapping is science.ese.SPEC_STATUS on the server). */
export const CANDIDATE_STATUSES = ["active", "investigated", "dismissed"] as const;
export type CandidateStatus = (typeof CANDIDATE_STATUSES)[number];

const CANDIDATE_LABELS: Record<CandidateStatus, string> = {
  active: "active",
  investigated: "investigated",
  dismissed: "dismissed",
};

const CANDIDATE_TONES: Record<CandidateStatus, Tone> = {
  active: "warn",
  investigated: "ok",
  dismissed: "muted",
};

export function candidateStatusLabel(status: string): string {
  return (CANDIDATE_LABELS as Record<string, string>)[status] ?? status;
}

/** The status workflow (science.md section 4, as the API enforces it): active ->
 * investigated -> dismissed, or back to active; dismissed only back to active. */
const CANDIDATE_MOVES: Record<CandidateStatus, readonly CandidateStatus[]> = {
  active: ["investigated", "dismissed"],
  investigated: ["dismissed", "active"],
  dismissed: ["active"],
};

export function canMoveCandidate(from: string, to: CandidateStatus): boolean {
  return ((CANDIDATE_MOVES as Record<string, readonly string[]>)[from] ?? []).includes(to);
}

export function candidateStatusTone(status: string): Tone {
  return (CANDIDATE_TONES as Record<string, Tone>)[status] ?? "neutral";
}

/** Where a validity window [start, end] (MJD) lies relative to `nowMjd`. */
export type Validity = "current" | "future" | "expired";

export function validityOf(startMjd: number, endMjd: number, nowMjd: number): Validity {
  if (nowMjd < startMjd) return "future";
  if (nowMjd > endMjd) return "expired";
  return "current";
}

export function validityTone(v: Validity, active: boolean): Tone {
  if (!active) return "muted";
  return v === "current" ? "ok" : v === "future" ? "info" : "neutral";
}

/** Tone of a variability significance (sigma): quiet, notable, strong. */
export function sigmaTone(sigma: number | null | undefined): Tone {
  if (sigma == null || !Number.isFinite(sigma)) return "neutral";
  if (sigma >= 5) return "bad";
  if (sigma >= 3) return "warn";
  return "neutral";
}
