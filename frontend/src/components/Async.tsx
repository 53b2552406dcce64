import { useQuery, type UseQueryResult } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { ApiError, errorMessage } from "../data/http";
import { authHeaders } from "../lib/token";

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

/** Fetch an image from the API (with the token, so it works when reads need one) as a
 * Blob; an error carries the server's message (e.g. "file not found: <path>"). */
async function fetchImage(src: string, signal: AbortSignal): Promise<Blob> {
  let r: Response;
  try {
    r = await fetch(src, { headers: authHeaders(), signal });
  } catch (e) {
    throw new ApiError(0, e instanceof Error ? e.message : String(e));
  }
  if (!r.ok) {
    let body: unknown = null;
    try {
      body = await r.json();
    } catch {
      // not JSON: the status text
    }
    throw new ApiError(r.status, errorMessage(body, r.statusText || `HTTP ${r.status}`));
  }
  return r.blob();
}

/** An image served by the API, never a broken one without a word: a shimmering
 * placeholder while it loads; "file missing" and the path when the server answers
 * 404 (the file named in the database is gone); otherwise the error text; both with
 * a retry button. */
export function ApiImage({
  src,
  alt,
  testId,
  onLoad,
}: {
  src: string;
  alt: string;
  testId?: string;
  onLoad?: () => void;
}) {
  const q = useQuery({
    queryKey: ["file", src],
    queryFn: ({ signal }) => fetchImage(src, signal),
    staleTime: Infinity,
    retry: (n, e) => !(e instanceof ApiError && e.status >= 400 && e.status < 500) && n < 2,
  });
  const [url, setUrl] = useState<string | null>(null);
  const [broken, setBroken] = useState(false);
  useEffect(() => {
    if (!q.data) return;
    const u = URL.createObjectURL(q.data);
    setUrl(u);
    setBroken(false);
    return () => URL.revokeObjectURL(u);
  }, [q.data]);
  const retry = () => {
    setBroken(false);
    void q.refetch();
  };
  if (q.isError || broken) {
    const missing = q.error instanceof ApiError && q.error.status === 404;
    const detail = broken ? "the server's image could not be decoded" : q.error instanceof Error ? q.error.message : String(q.error);
    return (
      <div className="img-state img-error" role="alert" data-testid={missing ? "file-missing" : "image-error"} title={detail}>
        <strong>{missing ? "file missing" : "image failed"}</strong>
        <span className="error-detail">{detail}</span>
        <button
          type="button"
          className="btn small"
          onClick={(e) => {
            e.preventDefault();
            e.stopPropagation();
            retry();
          }}
        >
          Retry
        </button>
      </div>
    );
  }
  if (!url || q.isFetching) {
    return (
      <div className="img-state img-loading shimmer" role="status" aria-label={`Loading ${alt}`} data-testid="image-loading">
        <span className="sr-only">Loading {alt}…</span>
      </div>
    );
  }
  return <img src={url} alt={alt} data-testid={testId} onLoad={onLoad} onError={() => setBroken(true)} />;
}
