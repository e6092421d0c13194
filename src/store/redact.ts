/**
 * An endpoint URL fit for a message: any user info (`user:password@`) is replaced by `…@`. Cuts at
 * the last `@`, so a password holding `@` or `/` (URL-encoded or not) never shows, and works on
 * URLs without a scheme (`user:pw@host:9000`) too.
 */
export function hideUserInfo(endpoint: string): string {
  const at = endpoint.lastIndexOf('@');
  if (at < 0) return endpoint;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(endpoint)?.[0] ?? '';
  return `${scheme}…@${endpoint.slice(at + 1)}`;
}
