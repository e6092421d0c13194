/**
 * Constants both ends of the meta.flexfs protocol agree on. Bump PROTOCOL_VERSION on any change
 * to frame shapes or op semantics; a mismatch is refused at the handshake with a clear message.
 */
export const PROTOCOL_VERSION = 1;
import { META_SERVER_DEFAULTS } from '../../config/defaults.js';

/** Largest frame the server accepts from a client (requests are small; xattr values ≤ 64 KiB). */
export const MAX_REQUEST_FRAME_BYTES = 1 << 20;
/** Largest frame a client accepts from the server (readdir pages, block maps). */
export const MAX_RESPONSE_FRAME_BYTES = 64 << 20;

/** Default listening port of meta.flexfs. */
export const DEFAULT_META_PORT = META_SERVER_DEFAULTS.port;

/** HTTP path of the WebSocket RPC endpoint. */
export const RPC_PATH = '/v1/rpc';

/** WebSocket close codes the server uses (4000–4999 are application codes). */
export const CloseCode = {
  normal: 1000,
  unsupportedData: 1003,     // text frame where binary msgpack was expected
  malformed: 1007,           // not msgpack / not a frame
  policy: 1008,              // request before handshake, handshake timeout
  tooBig: 1009,              // frame over MAX_REQUEST_FRAME_BYTES (ws sends this itself)
  auth: 4001,                // wrong, unknown or revoked token
  version: 4002,             // protocol version mismatch
  badHello: 4003,            // handshake frame malformed
  sessionExpired: 4004,      // server no longer knows the session
  shutdown: 4005,            // server stopping
} as const;

export const SERVER_VERSION = '0.1.0';
