import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { CandidateReasonView } from "./CandidateReason";

describe("CandidateReasonView", () => {
  it("says which rule fired, against which threshold, at which epochs", () => {
    render(
      <CandidateReasonView
        reason={{
          rule: "variability",
          significance: 12.34,
          threshold: 5.1,
          base_threshold: 5,
          false_alarm: 1e-4,
          n_obs: 30,
          chi2_nu: 8.2,
          chi2_threshold: 3,
          min_obs: 5,
          mean_flux_mjy: 151.2,
          epochs_mjd: [60960.5, 60961.5],
          deviations_sigma: [-9.1, -12.34],
        }}
      />,
    );
    const el = screen.getByTestId("candidate-reason");
    expect(el.textContent).toContain("significance when flagged 12.34 σ ≥ threshold 5.10 σ");
    expect(el.textContent).toContain("configured 5.00 σ, raised for 30 measurements");
    expect(el.textContent).toContain("χ²_ν 8.20 ≥ 3.00");
    expect(el.textContent).toContain("MJD 60961.5000 (-12.3 σ)");
  });

  it("shows the pair of a rapid change", () => {
    render(
      <CandidateReasonView
        reason={{ rule: "rapid_change", significance: 6.5, threshold: 4.75, base_threshold: 4.3, m: 0.41, m_threshold: 0.26, epochs_mjd: [60950.5, 60951.5], fluxes_mjy: [200, 130], n_obs: 12 }}
      />,
    );
    const el = screen.getByTestId("candidate-reason");
    expect(el.textContent).toContain("|m| 0.410 ≥ 0.26");
    expect(el.textContent).toMatch(/200(\.0*)? → 130(\.0*)? mJy/);
  });

  it("says when the trials counted the horizon rather than the measurements so far", () => {
    render(
      <CandidateReasonView
        reason={{ rule: "rapid_change", significance: 6.5, threshold: 4.75, base_threshold: 4.3, false_alarm: 1e-4, trials_horizon: 50, m: 0.41, m_threshold: 0.26, epochs_mjd: [60950.5, 60951.5], fluxes_mjy: [200, 130], n_obs: 12 }}
      />,
    );
    const el = screen.getByTestId("candidate-reason");
    expect(el.textContent).toContain("raised for 50 measurements (the 12 so far, counted as the horizon's 50)");
  });
});
