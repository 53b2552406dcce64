import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { ApiError } from "../data/http";

/** Loading placeholder: a few shimmering lines of roughly the content's height. */
export function Loading({ lines = 3, label = "Loading" }: { lines?: number; label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite" aria-label={label}>
      {Array.from({ length: lines }, (_, i) => (
        <div key={i} className="shimmer" style={{ width: `${90 - i * 12}%` }} />
      ))}
      <span className="sr-only">{label}…</span>
    </div>
  );
}

/** An error as a person can act on it: what failed, the server's message, and retry. */
export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  let title = "Request failed";
  let detail = String(error);
  if (error instanceof ApiError) {
    title =
      error.status === 404
        ? "Not found"
        : error.status === 401 || error.status === 403
          ? "Not authorised: set a write token (top right)"
          : error.status === 0
            ? "Server unreachable"
            : `Server error ${error.status}`;
    detail = error.message;
  } else if (error instanceof Error) {
    detail = error.message;
  }
  return (
    <div className="error-box" role="alert">
      <strong>{title}</strong>
      <span className="error-detail">{detail}</span>
      {onRetry && (
        <button type="button" className="btn small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** Renders a query's loading, error or data state. */
export function QueryView<T>({
  q,
  children,
  lines,
}: {
  q: UseQueryResult<T>;
  children: (data: T) => ReactNode;
  lines?: number;
}) {
  if (q.isPending) return <Loading lines={lines} />;
  if (q.isError) return <ErrorBox error={q.error} onRetry={() => void q.refetch()} />;
  return <>{children(q.data)}</>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}
