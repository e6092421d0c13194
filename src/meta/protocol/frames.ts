import { Packr } from 'msgpackr';
import type { ErrnoName } from '../../errors/index.js';
import type { VolumeSettings } from '../types.js';

/**
 * Frame shapes on the RPC WebSocket. Every frame is one binary WebSocket message holding one
 * msgpack value. bigint round-trips as msgpack int64 (times in ns); Buffer as bin.
 *
 *   client → server   Hello (first frame), then Request*
 *   server → client   Welcome | Refused (answer to Hello), then Response* and, to a session
 *                     whose hello said `watch`, ChangesFrame (no id; protocol/changes.ts)
 */
export interface Hello {
  t: 'hello';
  v: number;
  token: string;
  /** Volume name or id; optional when the token is bound to one volume. */
  volume?: string;
  host: string;
  pid: number;
  mountpoint?: string;
  /** Session id to resume after a reconnect. */
  resume?: string;
  /** Send this session `changes` frames: what other sessions of the volume change (a mount's caches). */
  watch?: boolean;
  /** Serve this session the volume as it was at this time (ms since the epoch), read-only (src/meta/history). */
  atTime?: number;
}

export interface Welcome {
  t: 'welcome';
  v: number;
  sessionId: string;
  resumed: boolean;
  settings: VolumeSettings;
  /** How often the client should heartbeat. */
  heartbeatMs: number;
  ttlSeconds: number;
  serverVersion: string;
  /** The token is read-only: every change answers EROFS (the mount mounts read-only). */
  readOnly?: boolean;
  /** The token's subtree (display path), mounted as the root: inode 1 is that directory. */
  subdir?: string;
  /** The hello's atTime, echoed: this session reads the volume as of then (a server without history omits it). */
  atTime?: number;
}

export type RefusedReason = 'version' | 'auth' | 'volume' | 'bad-hello' | 'unavailable';

export interface Refused {
  t: 'refused';
  v: number;
  reason: RefusedReason;
  message: string;
}

export interface Request {
  id: number;
  op: string;
  args: unknown[];
}

export interface WireError {
  code: ErrnoName | string;
  message?: string;
}

export type Response = { id: number; ok: unknown } | { id: number; err: WireError };

// mapsAsObjects: frames are plain objects; int64AsType bigint: ns times stay exact. Numbers above
// 2^32 are encoded by msgpackr as float64, so they come back as numbers, not bigints.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint', moreTypes: false });

export function packFrame(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decode one frame; throws on anything that is not exactly one msgpack value. */
export function unpackFrame(data: Buffer): unknown {
  return packr.unpack(data);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** A request frame, or a description of what is wrong with it. */
export function parseRequest(v: unknown): Request | string {
  if (!isObject(v)) return 'frame is not a map';
  if (typeof v.id !== 'number' || !Number.isSafeInteger(v.id) || v.id < 0) return 'frame has no valid "id"';
  if (typeof v.op !== 'string' || v.op.length === 0 || v.op.length > 64) return 'frame has no valid "op"';
  const args = v.args === undefined ? [] : v.args;
  if (!Array.isArray(args)) return 'frame "args" is not an array';
  return { id: v.id, op: v.op, args };
}

/** A hello frame, or a description of what is wrong with it. The version is checked separately. */
export function parseHello(v: unknown): Hello | string {
  if (!isObject(v) || v.t !== 'hello') return 'first frame must be a hello';
  if (typeof v.v !== 'number') return 'hello has no protocol version';
  if (typeof v.token !== 'string' || v.token.length === 0 || v.token.length > 512) return 'hello has no valid token';
  if (v.volume !== undefined && (typeof v.volume !== 'string' || v.volume.length > 256)) return 'hello has an invalid volume';
  if (typeof v.host !== 'string' || v.host.length > 255) return 'hello has no valid host';
  if (typeof v.pid !== 'number' || !Number.isSafeInteger(v.pid)) return 'hello has no valid pid';
  if (v.mountpoint !== undefined && (typeof v.mountpoint !== 'string' || v.mountpoint.length > 4096)) return 'hello has an invalid mountpoint';
  if (v.resume !== undefined && (typeof v.resume !== 'string' || v.resume.length > 128)) return 'hello has an invalid resume session id';
  if (v.watch !== undefined && typeof v.watch !== 'boolean') return 'hello has an invalid watch flag';
  if (v.atTime !== undefined && (typeof v.atTime !== 'number' || !Number.isSafeInteger(v.atTime) || v.atTime < 0)) return 'hello has an invalid atTime';
  return v as unknown as Hello;
}
