/**
 * A recording HTTP forwarder for tests: listens on 127.0.0.1, forwards every request unchanged to
 * `target` (an http:// origin) and records method, path and headers, so a test can prove what a
 * client really sent on the wire (e.g. the SSE header on every PUT). Optionally answers some
 * requests itself (`respond`), e.g. to stand in as an endpoint that must be contacted.
 *
 * `stripSse` makes it a store that accepts SSE and ignores it: `x-amz-server-side-encryption` is
 * removed from requests (which are re-signed with `keys`, so the real server accepts them and
 * stores the object unencrypted) and the answer carries no SSE header, unless `answer` is set:
 * then 2xx answers to requests that asked for SSE get `x-amz-server-side-encryption: <answer>`
 * (a store that says it applied SSE).
 */
import { createServer, request, type IncomingHttpHeaders, type ServerResponse, type IncomingMessage } from 'node:http';
import { resignWithout, type SigningKeys } from './sigv4.js';

const SSE_HEADER = 'x-amz-server-side-encryption';

export interface CapturedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
  /** First 4 KiB of the body (to check form-encoded API calls such as STS). */
  bodyHead: string;
}

export interface CaptureProxy {
  endpoint: string;
  requests: CapturedRequest[];
  /** Most requests open at the same time since start/clear(). */
  readonly peakInFlight: number;
  clear(): void;
  stop(): Promise<void>;
}

export async function startCaptureProxy(opts: {
  target?: string;
  respond?: (req: IncomingMessage, body: Buffer, res: ServerResponse) => boolean;
  stripSse?: { keys: SigningKeys; answer?: string };
}): Promise<CaptureProxy> {
  const requests: CapturedRequest[] = [];
  const target = opts.target ? new URL(opts.target) : undefined;
  let inFlight = 0;
  let peak = 0;
  const server = createServer((req, res) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    res.once('close', () => { inFlight--; });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        method: req.method ?? '', path: req.url ?? '', headers: req.headers, bodyBytes: body.length,
        bodyHead: body.subarray(0, 4096).toString('latin1'),
      });
      if (opts.respond?.(req, body, res)) return;
      if (!target) {
        res.writeHead(502).end();
        return;
      }
      const askedSse = opts.stripSse !== undefined && req.headers[SSE_HEADER] !== undefined;
      let headers = req.headers;
      if (askedSse) {
        try {
          headers = resignWithout(req.method ?? '', req.url ?? '', req.headers, [SSE_HEADER], opts.stripSse!.keys);
        } catch (e) {
          res.writeHead(400).end((e as Error).message);
          return;
        }
      }
      const up = request({
        host: target.hostname, port: target.port, method: req.method, path: req.url, headers,
      }, (upRes) => {
        const status = upRes.statusCode ?? 502;
        const out = { ...upRes.headers };
        if (opts.stripSse) delete out[SSE_HEADER];
        if (askedSse && opts.stripSse?.answer && status >= 200 && status < 300) out[SSE_HEADER] = opts.stripSse.answer;
        res.writeHead(status, out);
        upRes.pipe(res);
      });
      up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
      up.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    get peakInFlight() { return peak; },
    clear: () => { requests.length = 0; peak = inFlight; },
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
