/**
 * A recording HTTP forwarder for tests: listens on 127.0.0.1, forwards every request unchanged to
 * `target` (an http:// origin) and records method, path and headers, so a test can prove what a
 * client really sent on the wire (e.g. the SSE header on every PUT). Optionally answers some
 * requests itself (`respond`), e.g. to stand in as an endpoint that must be contacted.
 */
import { createServer, request, type IncomingHttpHeaders, type ServerResponse, type IncomingMessage } from 'node:http';

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
      const up = request({
        host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers,
      }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
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
