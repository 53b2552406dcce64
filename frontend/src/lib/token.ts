/**
 * The write token: kept in localStorage, sent as `Authorization: Bearer <token>`
 * on writes (and on reads, harmlessly, in case the server requires it for reads).
 */

const KEY = "contimg.writeToken";
const listeners = new Set<() => void>();

export function getToken(): string | null {
  try {
    const t = window.localStorage.getItem(KEY);
    return t && t.trim() ? t.trim() : null;
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token && token.trim()) window.localStorage.setItem(KEY, token.trim());
    else window.localStorage.removeItem(KEY);
  } catch {
    // private mode without storage: the token lives only for this page
  }
  listeners.forEach((fn) => fn());
}

export function onTokenChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Headers to add to a request. */
export function authHeaders(): Record<string, string> {
  const t = getToken();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

const USER_KEY = "contimg.userName";

/** The name (or e-mail) this browser signs notes and flags with. */
export function getUserName(): string {
  try {
    return window.localStorage.getItem(USER_KEY)?.trim() ?? "";
  } catch {
    return "";
  }
}

export function setUserName(name: string): void {
  try {
    window.localStorage.setItem(USER_KEY, name.trim());
  } catch {
    // no storage: the name is asked again next time
  }
}
