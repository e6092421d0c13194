import type { MetaStore } from '../meta/types.js';
import type { BlockStoreSettings, VolumeSettings } from '../volume/settings.js';
import type { MetaTlsOptions } from '../meta/client/index.js';
import type { ProxyClientCreds } from '../proxy/index.js';
import type { SseMode } from '../store/index.js';
import type { ObjectStore } from '../store/types.js';
import type { FileSystemOptions } from '../vfs/index.js';

/** Where the mount stack's records go (the CLI passes its pino logger; default: nowhere). */
export interface MountLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A volume's metadata as the stack uses it, and how to let go of it. */
export interface MetaSource {
  meta: MetaStore;
  settings: VolumeSettings;
  /** Mount session id: the VFS's open-file holds belong to it. */
  sessionId?: string;
  /** The metadata source refuses every change (a read-only token): the mount is read-only. */
  readOnly?: boolean;
  close(): Promise<void>;
}

/**
 * Where the volume's metadata comes from:
 * - `local`: embedded sqlite (worker thread) on DIR/meta.db, blocks in DIR/blocks; the volume is
 *   created on first use, and this mount keeps a session with a heartbeat (`--local DIR`);
 * - `remote`: a session on meta.flexfs;
 * - `atTime` (local, remote): the volume as it was then, read-only (src/meta/history); a time
 *   outside the volume's history window fails the open, naming the window;
 * - `given`: an already open source (tests, benches); the stack closes it with the rest.
 *   `namesSealed`: its MetaStore already seals names (withNameEncryption applied), so the stack
 *   does not wrap it again.
 */
export type MetaSourceConfig =
  | { kind: 'local'; dir: string; atTime?: number }
  | { kind: 'remote'; addr: string; token: string; tls?: MetaTlsOptions; atTime?: number }
  | { kind: 'given'; source: MetaSource; namesSealed?: boolean };

/** Everything below the CLI, as typed data. */
export interface MountStackConfig {
  volume: string;
  /** The mountpoint the metadata session records (for `flexfs status` and session listings). */
  mountpoint?: string;
  meta: MetaSourceConfig;
  /** The E2E passphrase: creates an encrypted volume (local, first use) and unlocks its data key. */
  secret?: string;
  /** An already unlocked data key (tests, benches): used instead of unlocking with `secret`. */
  dataKey?: Buffer;
  /** The credentials file the settings came from: named in error messages only. */
  credsPath?: string;
  /** Proxy tokens and TLS trust (from the credentials file). */
  proxyCreds?: ProxyClientCreds;
  /** Proxies in front of the bucket; undefined: the volume's `proxies` setting. */
  proxies?: string[];
  /** SSE-S3 check on PUTs; 'off' (default) still follows the volume's `sse` setting as 'on'. */
  sse?: SseMode;
  /**
   * Opens the bucket store (default `openStore`, retry over prefix over S3, or retry over file;
   * the retries get the VFS's block deadline).
   * The stack owns what it returns.
   */
  openStore?: (settings: BlockStoreSettings) => ObjectStore;
  /**
   * Check at open that the block store answers (a HEAD of a key that need not exist, within
   * TIMEOUTS.storeCheckMs), so a wrong endpoint, bucket or credentials fail the mount at once
   * instead of at the first close. Default true; `--skipStoreCheck` turns it off.
   */
  checkStore?: boolean;
  /**
   * The volume's recovery folder (src/recovery/): what it holds is applied at open, before the
   * core is built (an error if that fails), and unmount saves there what it cannot upload.
   * Undefined: neither (tests, benches).
   */
  recoveryFolder?: string;
  /** Codec worker threads (default: createCodec's). */
  codecWorkers?: number;
  /** VFS options (sizes, deadlines, flags); meta, store, codec, settings and session come from the stack. */
  vfs?: Omit<FileSystemOptions, 'meta' | 'store' | 'codec' | 'settings' | 'sessionId' | 'recovery'>;
  log?: MountLog;
}
