/** The base URL as recorded with each request: no user:password part, no query (some servers put a key there). */
export function endpointOf(baseURL: string): string {
  try {
    const u = new URL(baseURL);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return baseURL.replace(/[?#].*$/, '');
  }
}
