import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { NavLink, Outlet } from "react-router-dom";
import { connectEvents, type LiveState } from "../lib/events";
import { TokenControl } from "./TokenControl";

const NAV: [string, string][] = [
  ["/", "Overview"],
  ["/queue", "Queue"],
  ["/calibration", "Calibration"],
  ["/images", "Images"],
  ["/sources", "Sources"],
  ["/candidates", "ESE candidates"],
  ["/mosaics", "Mosaics"],
];

function LiveIndicator() {
  const qc = useQueryClient();
  const [state, setState] = useState<LiveState>("connecting");
  const [last, setLast] = useState<string | undefined>();
  useEffect(
    () =>
      connectEvents(qc, (s, l) => {
        setState(s);
        if (l) setLast(l);
      }),
    [qc],
  );
  const label = { connecting: "connecting", live: "live", reconnecting: "reconnecting", unsupported: "no live updates" }[state];
  return (
    <span className={`live live-${state}`} data-testid="live" data-state={state} title={last ? `last event: ${last}` : "server events"}>
      <span className="dot" aria-hidden /> {label}
    </span>
  );
}

function UtcClock() {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const mjd = now / 86400000 + 40587;
  return (
    <span className="clock" title="Current time, UTC and MJD">
      {new Date(now).toISOString().slice(11, 19)} UTC · MJD {mjd.toFixed(4)}
    </span>
  );
}

export function Layout() {
  const [menu, setMenu] = useState(false);
  return (
    <div className="app">
      <header className="topbar">
        <NavLink to="/" className="brand" onClick={() => setMenu(false)}>
          <span className="brand-mark">DSA-110</span> contimg
        </NavLink>
        <button type="button" className="btn small menu-btn" aria-expanded={menu} onClick={() => setMenu((m) => !m)}>
          ≡ menu
        </button>
        <nav className={menu ? "open" : ""} aria-label="Pages">
          {NAV.map(([to, label]) => (
            <NavLink key={to} to={to} end={to === "/"} onClick={() => setMenu(false)}>
              {label}
            </NavLink>
          ))}
        </nav>
        <div className="topbar-right">
          <UtcClock />
          <LiveIndicator />
          <TokenControl />
        </div>
      </header>
      <main>
        <Outlet />
      </main>
    </div>
  );
}
