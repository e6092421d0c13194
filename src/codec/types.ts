/**
 * Block codec: turns the raw bytes of one block slot into the stored object ("frame") and back.
 * Frame layout is in docs/FORMAT.md. `key` is the object key the frame is stored under: encrypted
 * frames bind it as AAD, so a frame copied to another key fails to decode.
 *
 * decode() never returns wrong bytes: any corruption, truncation, wrong key or moved frame raises
 * CodecError (which the VFS answers as EIO).
 *
 * Buffers: do not modify a buffer passed to encode/decode until the promise settles (large ones are
 * copied for a worker thread when it picks the job up). encode returns a new buffer. decode of a
 * plain, uncompressed frame returns a view into that frame (no copy): do not modify the frame
 * afterwards; any other decode returns a new buffer.
 */
export interface BlockCodec {
  encode(key: string, raw: Buffer): Promise<Buffer>;
  /**
   * `consume`: the caller hands the frame over and will not read it again (not even on failure):
   * a large frame may then move to a worker thread without a copy, leaving `frame` empty.
   */
  decode(key: string, frame: Buffer, opts?: { consume?: boolean }): Promise<Buffer>;
  /** Cheap check of a frame's integrity without returning plaintext (used by proxies on stored frames). */
  verify(key: string, frame: Buffer): Promise<void>;
  close(): Promise<void>;
}

export class CodecError extends Error {
  readonly key?: string;
  constructor(message: string, options?: { key?: string; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = 'CodecError';
    this.key = options?.key;
  }
}
