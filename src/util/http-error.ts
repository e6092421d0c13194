/**
 * An error that carries the HTTP status to answer with (and, for the metadata server's admin API,
 * the errno-style code put in its JSON body). The message is sent to the client: no secrets in it.
 */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string) {
    super(message);
  }
}
