import type { PipelineStatus } from "../data/types";
import { Badge } from "./Badge";

/** The live real-time factor of the last hour, the backlog trend and the disk guard
 * (PipelineStatus.rate / .disk_guard; docs/operations.md defines the factor). */
export function LiveRateLine({ s }: { s: PipelineStatus }) {
  const rate = s.rate;
  const guard = s.disk_guard;
  if (!rate && !guard) return null;
  const rtf = rate?.real_time_factor;
  return (
    <div className="row small" data-testid="live-rate" style={{ marginTop: 8, gap: "0.9rem" }}>
      {rate && (
        <span
          title={`Sky time of the ${rate.groups_completed} group(s) completed in the last hour / the wall time during which some group was processed (${Math.round(rate.busy_s)} s). Above 1: faster than the telescope.`}
        >
          real-time factor{" "}
          <Badge tone={rtf == null ? "neutral" : rtf >= 1 ? "ok" : "warn"}>{rtf == null ? "no group in the last hour" : `${rtf.toFixed(2)}×`}</Badge>
        </span>
      )}
      {rate && (
        <span>
          last hour: {rate.groups_received} arrived, {rate.groups_completed} completed, backlog {rate.backlog}
          {rate.backlog_growing && (
            <>
              {" "}
              <Badge tone="warn">backlog growing</Badge>
            </>
          )}
        </span>
      )}
      {guard?.paused && (
        <span className="error-text" data-testid="disk-guard">
          <Badge tone="bad">workers paused</Badge> {guard.reason}
        </span>
      )}
    </div>
  );
}
