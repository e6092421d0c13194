import { open } from 'node:fs/promises';

/**
 * A file holding secrets (credentials, an E2E passphrase) that group or others may access: its
 * secrets may already be known to others, so it is refused with the fix in the message.
 */
export class OpenModeError extends Error {
  constructor(readonly path: string, readonly mode: number, what: string) {
    super(`${what} ${path} is accessible by group or others (mode 0${mode.toString(8)}); `
      + `run "chmod 600 ${path}" (and rotate its secrets if others could read them)`);
  }
}

/**
 * Read a file of secrets as text, refusing it (OpenModeError) when its mode gives group or others
 * any access, unless `allowOpenMode`. Mode and contents come from one open file, so the file
 * checked is the file read. Other errors are the fs errors (ENOENT, EACCES, …) for the caller to name.
 */
export async function readPrivateFile(path: string, what: string, opts: { allowOpenMode?: boolean } = {}): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const mode = (await fh.stat()).mode & 0o777;
    if (!opts.allowOpenMode && (mode & 0o077) !== 0) throw new OpenModeError(path, mode, what);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}
