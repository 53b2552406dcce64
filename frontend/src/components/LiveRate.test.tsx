import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { PipelineStatus } from "../data/types";
import { LiveRateLine } from "./LiveRate";

const queue = { total: 9, pending: 4, in_progress: 1, completed: 3, failed: 1, collecting: 0, processing_fresh: 0 };

function status(extra: Partial<PipelineStatus>): PipelineStatus {
  return { queue, calibration_sets: [], recent_groups: [], ...extra };
}

describe("LiveRateLine", () => {
  it("shows the real-time factor and warns when the backlog grows", () => {
    render(
      <LiveRateLine
        s={status({
          rate: { window_s: 3600, real_time_factor: 3.7104, groups_completed: 3, groups_received: 5, busy_s: 250, backlog: 5, backlog_growing: true },
          disk_guard: { paused: false, reason: null, min_free_gb: 2, dirs: [] },
        })}
      />,
    );
    expect(screen.getByText("3.71×")).toBeInTheDocument();
    expect(screen.getByText("backlog growing")).toBeInTheDocument();
    expect(screen.getByText(/5 arrived, 3 completed, backlog 5/)).toBeInTheDocument();
    expect(screen.queryByTestId("disk-guard")).toBeNull();
  });
  it("says why workers are paused, and when no group completed", () => {
    render(
      <LiveRateLine
        s={status({
          rate: { window_s: 3600, real_time_factor: null, groups_completed: 0, groups_received: 0, busy_s: 0, backlog: 0, backlog_growing: false },
          disk_guard: { paused: true, reason: "products directory /data/p has 0.5 GB free: below worker.min_free_gb = 2 GB", min_free_gb: 2, dirs: [] },
        })}
      />,
    );
    expect(screen.getByText("no group in the last hour")).toBeInTheDocument();
    expect(screen.queryByText("backlog growing")).toBeNull();
    expect(screen.getByTestId("disk-guard")).toHaveTextContent("workers paused products directory /data/p has 0.5 GB free");
  });
  it("renders nothing for a status without them (an older server)", () => {
    const { container } = render(<LiveRateLine s={status({})} />);
    expect(container).toBeEmptyDOMElement();
  });
});
