/**
 * Page state in the URL (filters, sort, paging), so every view is a deep link.
 */
import { useCallback } from "react";
import { useSearchParams } from "react-router-dom";

export function useUrlState() {
  const [sp, setSp] = useSearchParams();
  const get = useCallback((k: string): string | null => sp.get(k), [sp]);
  const num = useCallback(
    (k: string): number | undefined => {
      const v = sp.get(k);
      if (v === null || v.trim() === "") return undefined;
      const n = Number(v);
      return Number.isFinite(n) ? n : undefined;
    },
    [sp],
  );
  const set = useCallback(
    (changes: Record<string, string | number | null | undefined>, resetOffset = true) => {
      setSp(
        (prev) => {
          const next = new URLSearchParams(prev);
          for (const [k, v] of Object.entries(changes)) {
            if (v === null || v === undefined || v === "") next.delete(k);
            else next.set(k, String(v));
          }
          if (resetOffset && !("offset" in changes)) next.delete("offset");
          return next;
        },
        { replace: true },
      );
    },
    [setSp],
  );
  return { sp, get, num, set };
}

/** "a,b" -> ["a", "b"] (empty -> []). */
export function splitList(v: string | null): string[] {
  return v ? v.split(",").map((s) => s.trim()).filter(Boolean) : [];
}

/** UTC "YYYY-MM-DDTHH:MM" (datetime-local value, read as UTC) <-> Unix seconds. */
export function utcInputToUnix(v: string): number | undefined {
  if (!v) return undefined;
  const t = Date.parse(`${v.length === 16 ? `${v}:00` : v}Z`);
  return Number.isNaN(t) ? undefined : t / 1000;
}

export function unixToUtcInput(s: number | undefined): string {
  return s === undefined ? "" : new Date(s * 1000).toISOString().slice(0, 16);
}
