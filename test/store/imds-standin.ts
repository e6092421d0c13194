/**
 * A stand-in for the EC2 instance metadata service (IMDSv2), which cannot run here: answers the
 * token PUT, the role listing and the role's credentials the way EC2 does, and records every
 * request (method, path, token header) in order, so a test can prove the credential chain asked
 * it first. Point the SDK at it with AWS_EC2_METADATA_SERVICE_ENDPOINT=<endpoint>.
 */
import { createServer } from 'node:http';

export interface ImdsRequest { method: string; path: string; token?: string; seq: number }

export interface ImdsStandIn {
  endpoint: string;
  requests: ImdsRequest[];
  stop(): Promise<void>;
}

const CREDS_PATH = '/latest/meta-data/iam/security-credentials/';

/**
 * `role` absent: the instance has no role (the listing is 404, as on EC2). `seq` numbers requests
 * across this stand-in and anything else the test records (a shared counter).
 */
export async function startImdsStandIn(opts: {
  role?: { name: string; accessKeyId: string; secretAccessKey: string; sessionToken: string };
  seq?: () => number;
} = {}): Promise<ImdsStandIn> {
  const requests: ImdsRequest[] = [];
  const token = `imds-token-${process.pid}-${Date.now()}`;
  let n = 0;
  const server = createServer((req, res) => {
    const header = req.headers['x-aws-ec2-metadata-token'];
    requests.push({ method: req.method ?? '', path: req.url ?? '', token: typeof header === 'string' ? header : undefined, seq: opts.seq?.() ?? n++ });
    req.resume();
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
      return;
    }
    if (header !== token) {
      res.writeHead(401).end();
      return;
    }
    const role = opts.role;
    if (req.method === 'GET' && req.url === CREDS_PATH && role) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(role.name);
      return;
    }
    if (req.method === 'GET' && role && req.url === CREDS_PATH + role.name) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        Code: 'Success', Type: 'AWS-HMAC', LastUpdated: new Date().toISOString(),
        AccessKeyId: role.accessKeyId, SecretAccessKey: role.secretAccessKey, Token: role.sessionToken,
        Expiration: new Date(Date.now() + 3600_000).toISOString(),
      }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
