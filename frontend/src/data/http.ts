/**
 * The HTTP layer: a typed client over the generated OpenAPI `paths` (so a route or
 * field that the server drops breaks the build), the bearer token on every request,
 * and errors as `ApiError` with the server's own message.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "../client/schema";
import { authHeaders } from "../lib/token";

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** A readable message from a FastAPI error body ({detail: string | [{loc, msg}]}). */
export function errorMessage(body: unknown, fallback: string): string {
  if (body && typeof body === "object" && "detail" in body) {
    const d = (body as { detail: unknown }).detail;
    if (typeof d === "string") return d;
    if (Array.isArray(d)) {
      return d
        .map((e) => {
          const loc = Array.isArray(e?.loc) ? e.loc.filter((x: unknown) => x !== "body").join(".") : "";
          return loc ? `${loc}: ${e?.msg ?? ""}` : String(e?.msg ?? e);
        })
        .join("; ");
    }
  }
  return fallback;
}

const auth: Middleware = {
  onRequest({ request }) {
    for (const [k, v] of Object.entries(authHeaders())) request.headers.set(k, v);
    return request;
  },
};

export const client = createClient<paths>({ baseUrl: "" });
client.use(auth);

/** Unwrap an openapi-fetch result: the data, or an ApiError. */
export async function unwrap<T>(
  p: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let r;
  try {
    r = await p;
  } catch (e) {
    throw new ApiError(0, e instanceof Error ? e.message : String(e));
  }
  if (r.error !== undefined || !r.response.ok) {
    throw new ApiError(r.response.status, errorMessage(r.error, r.response.statusText || "request failed"));
  }
  return r.data as T;
}
