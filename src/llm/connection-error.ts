/**
 * The SDK reports every network failure as "Connection error."; the reason is in its cause chain (fetch's
 * TypeError → the socket's error, sometimes an AggregateError of one per address). This names it, with the
 * host:port that failed.
 */
export interface ConnectionFailure {
  /** e.g. "connection refused by 127.0.0.1:8000 (nothing is listening there)" */
  reason: string;
  /**
   * The endpoint cannot be reached at all (refused, no such host, TLS broken, no route): an endpoint that has never
   * answered and fails like this is most likely misconfigured, not having a bad minute.
   */
  unreachable: boolean;
  /** What to do about an unreachable endpoint, when the cause says more than "start the server". */
  hint?: string;
}

const DNS_HINT = 'check the host name in --base-url / generation.baseUrl, and that this machine can resolve it';
const TLS_HINT = 'check http:// versus https:// in --base-url / generation.baseUrl; for a private CA set NODE_EXTRA_CA_CERTS to its certificate file';

interface SocketErrorFields {
  message?: unknown;
  code?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  cause?: unknown;
  errors?: unknown;
}

const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$)/;

export function explainConnectionError(err: unknown, baseURL: string): ConnectionFailure {
  const chain = causeChain(err);
  // Node puts the code on an AggregateError too, but only its members say which address failed.
  const coded = chain.filter((e) => typeof e.code === 'string');
  const withCode = coded.find((e) => e.code !== 'UND_ERR_SOCKET' && typeof e.address === 'string') ?? coded.find((e) => e.code !== 'UND_ERR_SOCKET') ?? coded[0];
  const deepest = chain[chain.length - 1];
  const target = hostPort(withCode, baseURL);
  const code = typeof withCode?.code === 'string' ? withCode.code : undefined;
  const detail = firstLine(String(withCode?.message ?? deepest?.message ?? 'unknown'));
  switch (code) {
    case 'ECONNREFUSED':
      return { reason: `connection refused by ${target} (nothing is listening there)`, unreachable: true };
    case 'ENOTFOUND':
      return { reason: `host not found: ${hostOf(withCode, baseURL)} (DNS lookup failed, ENOTFOUND)`, unreachable: true, hint: DNS_HINT };
    case 'EAI_AGAIN':
      return { reason: `DNS lookup of ${hostOf(withCode, baseURL)} failed (EAI_AGAIN: no DNS server answered)`, unreachable: true, hint: DNS_HINT };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { reason: `no route to ${target} (${code})`, unreachable: true };
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { reason: `connecting to ${target} timed out (${code})`, unreachable: true };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return { reason: `connection to ${target} dropped (${code})`, unreachable: false };
  }
  if (code !== undefined && TLS_CODE.test(code)) {
    const plainHttp = code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ? '; the server may speak plain http, try http://' : '';
    return { reason: `TLS failure with ${target}: ${detail} (${code}${plainHttp})`, unreachable: true, hint: TLS_HINT };
  }
  // fetch refuses some URLs before any socket opens ("unknown scheme", "bad port"): retrying cannot help.
  if (/unknown scheme|bad port|invalid url/i.test(detail)) return { reason: `cannot connect to ${baseURL}: ${detail}`, unreachable: true };
  return { reason: `connection error with ${target} (${code ? `${code}: ` : ''}${detail})`, unreachable: false };
}

function causeChain(err: unknown): SocketErrorFields[] {
  const out: SocketErrorFields[] = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number) => {
    if (e === null || typeof e !== 'object' || seen.has(e) || depth > 8) return;
    seen.add(e);
    const f = e as SocketErrorFields;
    out.push(f);
    // Happy-eyeballs (IPv4 and IPv6 tried) fails with an AggregateError holding one error per address.
    if (Array.isArray(f.errors)) for (const x of f.errors) visit(x, depth + 1);
    visit(f.cause, depth + 1);
  };
  visit(err, 0);
  return out;
}

function hostPort(e: SocketErrorFields | undefined, baseURL: string): string {
  if (e && typeof e.address === 'string' && (typeof e.port === 'number' || typeof e.port === 'string')) {
    return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
  }
  try {
    const u = new URL(baseURL);
    return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return baseURL;
  }
}

function hostOf(e: SocketErrorFields | undefined, baseURL: string): string {
  if (e && typeof e.hostname === 'string') return e.hostname;
  try {
    return new URL(baseURL).hostname;
  } catch {
    return baseURL;
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 200);
}
