export { createCodec, INLINE_LIMIT, type CodecOptions } from './codec.js';
export { createEncryption, unlockDataKey, wrapDataKey, WrongPassphraseError, DEFAULT_SCRYPT, type ScryptParams } from './kdf.js';
export { parseFrame as verifyFrame, type FrameInfo, MAX_RAW_LENGTH } from './frame.js';
export { CodecError, type BlockCodec } from './types.js';
