import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Timeline } from "./Timeline";

describe("Timeline axis", () => {
  const sets = [
    { id: "a", label: "3C147_60950.5", startMjd: 60950.25, endMjd: 60950.75, active: true },
    { id: "b", label: "3C147_60951.5", startMjd: 60951.25, endMjd: 60951.75, active: true },
  ];

  it("draws sets of simulated dates at full width, with now as an edge arrow", () => {
    const { container } = render(<Timeline items={sets} nowMjd={61377.6} />);
    expect(screen.getByTestId("timeline-now-off-axis").textContent).toMatch(/^now \(\d{4}-\d\d-\d\d\) →$/);
    const bars = [...container.querySelectorAll("rect[rx]")].map((r) => Number(r.getAttribute("width")));
    // plot area is 800 units wide; each 0.5 d set of a ~1.6 d axis is ~240
    expect(Math.min(...bars)).toBeGreaterThan(200);
  });

  it("draws the now line when now is near the sets", () => {
    render(<Timeline items={sets} nowMjd={60951.5} />);
    expect(screen.queryByTestId("timeline-now-off-axis")).toBeNull();
    expect(screen.getByText("now")).toBeTruthy();
  });
});
