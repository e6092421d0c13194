import { Option, type Command } from 'commander';
import type { Logger } from 'pino';
import { LOG_DEFAULTS } from '../../config/defaults.js';
import { parseSize } from '../../config/sizes.js';
import { createLogger, LOG_FORMATS, type LogFormat } from '../../ops/log.js';
import { checked, sizeValue, wholeNumberValue, type ValueCheck } from './flag-values.js';

/** The log flags of mount.flexfs, meta.flexfs and proxy.flexfs `start` (src/ops/log.ts). */
export interface LogFlags {
  logFormat?: string;
  logFile?: string;
  logMaxSize?: string;
  logKeep?: string;
}

function parseLogFormat(text: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(text)) throw new Error(`"${text}": expected ${LOG_FORMATS.join(', ')}`);
  return text as LogFormat;
}

/** Value checks of the log flags (mount -o / fstab run them too: src/cli/mount/flags.ts). */
export const LOG_VALUE_CHECKS: Record<'logFormat' | 'logMaxSize' | 'logKeep', ValueCheck> = {
  logFormat: parseLogFormat,
  logMaxSize: sizeValue(false),
  logKeep: wholeNumberValue(1),
};

export function addLogOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--logFormat <format>', 'log lines as text, json or journal (default: journal under systemd, text on a terminal, json otherwise and in a --logFile)')
      .argParser(checked(LOG_VALUE_CHECKS.logFormat)))
    .option('--logFile <path>', 'append the log to this file (created 0600) instead of stderr, rotated by size', undefined)
    .option('--logMaxSize <size>', 'rotate the --logFile when it would grow past this size', checked(LOG_VALUE_CHECKS.logMaxSize), LOG_DEFAULTS.maxSize)
    .option('--logKeep <n>', 'rotated log files kept (FILE.1 … FILE.n)', checked(LOG_VALUE_CHECKS.logKeep), String(LOG_DEFAULTS.keep));
}

/** The daemon's logger from its log flags (already checked by the option parsers). */
export function daemonLogger(name: string, flags: LogFlags, verbose: boolean): Logger {
  return createLogger({
    name,
    format: flags.logFormat !== undefined ? parseLogFormat(flags.logFormat) : undefined,
    file: flags.logFile,
    maxBytes: parseSize(flags.logMaxSize ?? LOG_DEFAULTS.maxSize),
    keep: Number(flags.logKeep ?? LOG_DEFAULTS.keep),
    level: verbose ? 'debug' : 'info',
  });
}
