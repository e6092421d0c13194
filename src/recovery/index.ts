export type { PendingCommit, PendingWrite, RecoverySink } from './types.js';
export { encodeRecord, decodeRecord, RecordFormatError, RECORD_VERSION, type RecoveryRecord } from './record.js';
export { RecoveryFolder, type RecordEntry } from './folder.js';
export { applyRecovery, RecoveryApplyError, type ApplySummary, type ApplyDeps, type RecoveryLog } from './apply.js';
export { recoveryFolderFor, recoverCommand } from './paths.js';
