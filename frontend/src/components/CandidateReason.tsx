import type { ESECandidate } from "../data/types";
import { fmtFixed, fmtMjd, fmtMjdUtc, fmtSig } from "../lib/format";

type Reason = NonNullable<ESECandidate["reason"]>;

const RULES: Record<Reason["rule"], string> = {
  variability: "variability: max |f − μ|/σ and χ²_ν of the light curve",
  rapid_change: "rapid change: two consecutive good measurements",
};

/** Why an automatic candidate was flagged: the rule, its significance against the
 * threshold this light curve needed, and the epochs involved. */
export function CandidateReasonView({ reason }: { reason: Reason }) {
  const raised = reason.base_threshold != null && reason.threshold > reason.base_threshold + 1e-9;
  const epochs = reason.epochs_mjd ?? [];
  // The trials count at least the horizon's measurements (a light curve is tested again every epoch).
  const counted = Math.max(reason.n_obs ?? 0, reason.trials_horizon ?? 0);
  const byHorizon = reason.trials_horizon != null && reason.trials_horizon > (reason.n_obs ?? 0);
  return (
    <div className="small" data-testid="candidate-reason">
      <div>
        <b>{RULES[reason.rule]}</b>
      </div>
      <div>
        significance when flagged {fmtFixed(reason.significance, 2)} σ ≥ threshold {fmtFixed(reason.threshold, 2)} σ
        {raised && (
          <span className="muted" title="The configured threshold, raised for the number of measurements tested (at least the trials horizon: a light curve is tested again at every epoch) so that a constant source passes it by chance with the probability given">
            {" "}
            (configured {fmtFixed(reason.base_threshold, 2)} σ, raised for {counted} measurements
            {byHorizon ? ` (the ${reason.n_obs} so far, counted as the horizon's ${reason.trials_horizon})` : ""} at a chance of{" "}
            {fmtSig(reason.false_alarm, 2)} per light curve)
          </span>
        )}
      </div>
      {reason.rule === "variability" ? (
        <div>
          χ²_ν {fmtFixed(reason.chi2_nu, 2)} ≥ {fmtFixed(reason.chi2_threshold, 2)} · {reason.n_obs} good measurements (≥ {reason.min_obs}) · weighted mean{" "}
          {fmtSig(reason.mean_flux_mjy, 4)} mJy
        </div>
      ) : (
        <div>
          |m| {fmtFixed(reason.m, 3)} ≥ {fmtFixed(reason.m_threshold, 2)}
          {reason.fluxes_mjy && reason.fluxes_mjy.length === 2 && (
            <>
              {" "}
              · {fmtSig(reason.fluxes_mjy[0], 4)} → {fmtSig(reason.fluxes_mjy[1], 4)} mJy
            </>
          )}
        </div>
      )}
      {epochs.length > 0 && (
        <div>
          epochs:{" "}
          {epochs.map((mjd, k) => (
            <span key={`${mjd}-${k}`} className="mono" title={`${fmtMjdUtc(mjd)} UTC`}>
              {k > 0 ? ", " : ""}MJD {fmtMjd(mjd, 4)}
              {reason.deviations_sigma?.[k] != null ? ` (${fmtFixed(reason.deviations_sigma[k], 1)} σ)` : ""}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
