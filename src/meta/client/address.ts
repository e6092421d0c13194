import { DEFAULT_META_PORT, RPC_PATH } from '../protocol/index.js';

export interface MetaAddress {
  secure: boolean;
  host: string;
  port: number;
  /** Base for REST calls, e.g. https://host:8443 */
  httpBase: string;
  /** WebSocket URL of the RPC endpoint. */
  wsUrl: string;
}

/**
 * Parse a metadata server address: `host`, `host:port`, `https://host:port` (TLS, the default) or
 * `http://host:port` (a server started with --noSSL). IPv6 hosts go in brackets.
 */
export function parseMetaAddr(addr: string): MetaAddress {
  let text = addr.trim();
  let secure = true;
  const scheme = /^([a-z]+):\/\//i.exec(text);
  if (scheme) {
    const s = scheme[1].toLowerCase();
    if (s === 'http' || s === 'ws') secure = false;
    else if (s !== 'https' && s !== 'wss') throw new Error(`metadata server address "${addr}": unknown scheme ${s}`);
    text = text.slice(scheme[0].length).replace(/\/+$/, '');
  }
  const m = /^(\[[^\]]+\]|[^:/\[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new Error(`metadata server address "${addr}": expected host:port`);
  const host = m[1];
  const port = m[2] ? Number(m[2]) : DEFAULT_META_PORT;
  if (port < 1 || port > 65535) throw new Error(`metadata server address "${addr}": port out of range`);
  const httpBase = `${secure ? 'https' : 'http'}://${host}:${port}`;
  return { secure, host: host.replace(/^\[|\]$/g, ''), port, httpBase, wsUrl: `${secure ? 'wss' : 'ws'}://${host}:${port}${RPC_PATH}` };
}
