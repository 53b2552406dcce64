import { useEffect, useState } from "react";
import { getToken, onTokenChange, setToken } from "../lib/token";

/** Settings control for the write token: stored in this browser's localStorage. */
export function TokenControl() {
  const [open, setOpen] = useState(false);
  const [has, setHas] = useState(getToken() !== null);
  const [draft, setDraft] = useState("");
  useEffect(() => onTokenChange(() => setHas(getToken() !== null)), []);
  return (
    <div className="token-control">
      <button
        type="button"
        className={`btn small ${has ? "" : "ghost"}`}
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
        title={has ? "A write token is set: writes are enabled" : "Set the write token to enable writes"}
      >
        {has ? "token set" : "read-only"}
      </button>
      {open && (
        <form
          className="popover"
          onSubmit={(e) => {
            e.preventDefault();
            setToken(draft);
            setDraft("");
            setOpen(false);
          }}
        >
          <label htmlFor="token-input">Write token</label>
          <input
            id="token-input"
            type="password"
            autoComplete="off"
            placeholder={has ? "•••••• (stored)" : "paste the token printed by contimg serve"}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
          <p className="hint">
            Kept in this browser only (localStorage) and sent as <code>Authorization: Bearer</code>.
            The server prints it on first start and keeps it in <code>&lt;state&gt;/api_token</code>.
          </p>
          <div className="row">
            <button type="submit" className="btn small primary" disabled={!draft.trim()}>
              Save
            </button>
            {has && (
              <button
                type="button"
                className="btn small"
                onClick={() => {
                  setToken(null);
                  setOpen(false);
                }}
              >
                Forget
              </button>
            )}
          </div>
        </form>
      )}
    </div>
  );
}
