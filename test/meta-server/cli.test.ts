import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readCreds } from '../../src/config/creds.js';
import { connectMeta } from '../../src/meta/client/index.js';
import { ROOT_INO } from '../../src/meta/types.js';
import { tempDir } from '../harness/ports.js';
import { runCli } from './harness.js';
import { startDaemonEnv, type DaemonEnv } from './daemon-setup.js';

describe('meta.flexfs CLI against a live server', () => {
  let env: DaemonEnv;
  let cli: (args: string[], stdin?: string) => ReturnType<typeof runCli>;
  beforeAll(async () => {
    env = await startDaemonEnv();
    cli = (args, stdin = '') => runCli([...args, '--addr', `127.0.0.1:${env.daemon.port}`], { FLEXFS_HOME: env.home }, stdin);
  });
  afterAll(async () => { await env?.daemon.stop(); await env?.cleanup(); });

  it('init creds reads secrets from stdin, generates the admin token, writes 0600, prints no secret', async () => {
    const dir = await tempDir();
    try {
      const r = await runCli(['init', 'creds'], { FLEXFS_HOME: dir.path }, 'blockUser=AKIDCLI\nblockPass=cli-bucket-secret\n');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain('cli-bucket-secret');
      const path = join(dir.path, 'meta', 'creds');
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const creds = await readCreds(path);
      expect(creds.blockPass).toBe('cli-bucket-secret');
      expect(String(creds.adminToken)).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      expect(r.stdout + r.stderr).not.toContain(String(creds.adminToken));
      const bad = await runCli(['init', 'creds'], { FLEXFS_HOME: dir.path }, 'password=x\n');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/unknown key "password"/);
    } finally { await dir.cleanup(); }
  });

  it('volume create/list/show/delete and token create/list/revoke', async () => {
    const c = await cli(['volume', 'create', 'cli1', '--store', 's3://bucket/pfx', '--endpoint', 'http://127.0.0.1:9000',
      '--region', 'us-east-1', '--pathStyle', '--sse', '--blockSize', '1M', '--compression', 'none', '--retention', '2h', '--proxies', 'p1:9443,p2:9443']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/block size:\s+1\.0 MiB/);
    const bad = await cli(['volume', 'create', 'cli2', '--store', 's3://bucket', '--blockSize', '3M']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--blockSize 3M: must be a power of two/);
    const list = await cli(['volume', 'list']);
    expect(list.stdout).toMatch(/cli1\s+\S+\s+1\.0 MiB\s+none\s+no\s+s3:\/\/bucket\/pfx/);
    const show = await cli(['volume', 'show', 'cli1', '--json']);
    const v = JSON.parse(show.stdout);
    expect(v.blockStore).toMatchObject({ url: 's3://bucket/pfx', pathStyle: true, sse: true, credentials: 'static' });
    expect(v.retentionSeconds).toBe(7200);
    expect(v.proxies).toEqual(['p1:9443', 'p2:9443']);
    expect(show.stdout).not.toContain('daemon-bucket-secret');

    const t = await cli(['token', 'create', '--volume', 'cli1', '--label', 'host-a']);
    expect(t.code, t.stderr).toBe(0);
    const secret = t.stdout.trim();
    expect(secret.length).toBeGreaterThan(20);
    const session = await connectMeta({ addr: `127.0.0.1:${env.daemon.port}`, token: secret, tls: { ca: env.certPath } });
    expect(session.settings.blockStore.blockPass).toBe('daemon-bucket-secret'); // from the server creds file
    expect((await session.store.getattr(ROOT_INO, { uid: 0, gid: 0 })).type).toBe('dir');
    await session.close();
    const tl = await cli(['token', 'list', '--json']);
    const tokens = JSON.parse(tl.stdout) as Array<{ id: string; label?: string }>;
    const mine = tokens.find((x) => x.label === 'host-a')!;
    expect(tl.stdout).not.toContain(secret);
    const revoke = await cli(['token', 'revoke', mine.id]);
    expect(revoke.code, revoke.stderr).toBe(0);
    await expect(connectMeta({ addr: `127.0.0.1:${env.daemon.port}`, token: secret, tls: { ca: env.certPath } }))
      .rejects.toThrow(/invalid or revoked token/);

    const del = await cli(['volume', 'delete', 'cli1']);
    expect(del.code, del.stderr).toBe(0);
    const gone = await cli(['volume', 'show', 'cli1']);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/does not exist/);
  });

  it('volume create --ambientCredentials --assumeRoleArn --stsEndpoint land in volume show; mounts get no bucket secret', async () => {
    const arn = 'arn:aws:iam::123456789012:role/flexfs-mount';
    const c = await cli(['volume', 'create', 'role1', '--store', 's3://bucket/role', '--ambientCredentials',
      '--assumeRoleArn', arn, '--stsEndpoint', 'https://sts.example.test']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(new RegExp(`assume role:\\s+${arn}`));
    expect(c.stdout).toMatch(/sts endpoint:\s+https:\/\/sts\.example\.test/);
    const v = JSON.parse((await cli(['volume', 'show', 'role1', '--json'])).stdout);
    expect(v.blockStore).toMatchObject({ credentials: 'ambient', assumeRoleArn: arn, stsEndpoint: 'https://sts.example.test' });
    const { secret } = await env.admin.createToken({ volume: 'role1' });
    const session = await connectMeta({ addr: `127.0.0.1:${env.daemon.port}`, token: secret, tls: { ca: env.certPath } });
    try {
      expect(session.settings.blockStore).toMatchObject({ credentials: 'ambient', assumeRoleArn: arn });
      expect(session.settings.blockStore.blockUser).toBeUndefined();
      expect(session.settings.blockStore.blockPass).toBeUndefined();
    } finally { await session.close(); }
    for (const [flag, value, msg] of [['--assumeRoleArn', 'my-role', /--assumeRoleArn my-role: expected a role ARN/],
      ['--stsEndpoint', 'sts.example.test', /--stsEndpoint sts\.example\.test: expected an http\(s\):\/\/ URL/]] as const) {
      const bad = await cli(['volume', 'create', 'role2', '--store', 's3://bucket', flag, value]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(msg);
    }
  });

  it('volume create --inodeLimit and --capacity: statfs reports them and the server answers ENOSPC past them', async () => {
    const c = await cli(['volume', 'create', 'small1', '--store', 'file:///tmp/small1', '--blockSize', '256K', '--capacity', '1M', '--inodeLimit', '3']);
    expect(c.code, c.stderr).toBe(0);
    const { secret } = await env.admin.createToken({ volume: 'small1' });
    const session = await connectMeta({ addr: `127.0.0.1:${env.daemon.port}`, token: secret, tls: { ca: env.certPath } });
    const root = { uid: 0, gid: 0 };
    try {
      const m = session.store;
      expect(await m.statfs(root)).toMatchObject({ inodeLimit: 3, capacityBytes: 1024 * 1024, inodes: 1 });
      const f = await m.create(ROOT_INO, 'f', 0o644, root);
      await m.mkdir(ROOT_INO, 'd', 0o755, root);
      await expect(m.create(ROOT_INO, 'g', 0o644, root)).rejects.toMatchObject({ code: 'ENOSPC' });
      const id = await m.allocIds(1, root);
      await m.commit({ ino: f.ino, size: 1024 * 1024, mtime: 1n, writes: [{ index: 0, blockId: id, length: 100 }] }, root);
      await expect(m.setattr(f.ino, { size: 1024 * 1024 + 1 }, root)).rejects.toMatchObject({ code: 'ENOSPC' });
      expect((await m.statfs(root)).usedBytes).toBe(1024 * 1024);
    } finally { await session.close(); }
    const bad = await cli(['volume', 'create', 'small2', '--store', 'file:///tmp/small2', '--inodeLimit', 'lots']);
    expect(bad.code).not.toBe(0);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/option '--inodeLimit <n>' argument 'lots' is invalid\. "lots": expected a whole number/);
  });

  it('volume create --encrypt stores KDF params and the wrapped key, never the passphrase', async () => {
    const r = await cli(['volume', 'create', 'enc1', '--store', 'file:///tmp/enc1', '--encrypt'], 'correct horse battery\ncorrect horse battery\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/encryption:\s+AES-256-GCM \(kdf scrypt/);
    const v = JSON.parse((await cli(['volume', 'show', 'enc1', '--json'])).stdout);
    expect(v.encryption.wrappedKey).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(JSON.stringify(v)).not.toContain('correct horse');
    const mismatch = await cli(['volume', 'create', 'enc2', '--store', 'file:///tmp/enc2', '--encrypt'], 'correct horse battery\nwrong horse battery\n');
    expect(mismatch.code).not.toBe(0);
    expect(mismatch.stderr).toMatch(/do not match/);
  });

  it('admin commands refuse a wrong admin token', async () => {
    const dir = await tempDir();
    try {
      await runCli(['init', 'creds'], { FLEXFS_HOME: dir.path }, 'adminToken=not-the-admin-token\n');
      const r = await runCli(['volume', 'list', '--addr', `127.0.0.1:${env.daemon.port}`, '--ca', env.certPath], { FLEXFS_HOME: dir.path });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/admin token required/);
      expect(r.stderr).not.toContain('not-the-admin-token');
    } finally { await dir.cleanup(); }
  });

  it('init systemd prints the packaged unit and the env file; --now writes both', async () => {
    const packaged = await readFile(new URL('../../packaging/systemd/flexfs-meta.service', import.meta.url), 'utf8');
    const r = await runCli(['init', 'systemd', '--engine', 'redis://10.0.0.5:6379', '--sync'], { FLEXFS_HOME: env.home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith(packaged)).toBe(true);
    expect(r.stdout).toMatch(/^# FLEXFS_META_ARGS="--engine redis:\/\/10\.0\.0\.5:6379 --sync"$/m);
    const dir = await tempDir();
    try {
      const w = await runCli(['init', 'systemd', '--now', '--unitDir', dir.path, '--envDir', dir.path, '--dbFolder', '/var/lib/flexfs/meta'], { FLEXFS_HOME: env.home });
      expect(w.code, w.stderr).toBe(0);
      expect(await readFile(join(dir.path, 'flexfs-meta.service'), 'utf8')).toBe(packaged);
      expect(await readFile(join(dir.path, 'meta.env'), 'utf8')).toBe('FLEXFS_META_ARGS="--dbFolder /var/lib/flexfs/meta"\n');
    } finally { await dir.cleanup(); }
  });

  it('a redis password in --engine is refused (it would be in argv and meta.env), naming where it goes instead', async () => {
    for (const cmd of [['init', 'systemd'], ['start']]) {
      const r = await runCli([...cmd, '--engine', 'redis://:hunter2-secret@127.0.0.1:6379'], { FLEXFS_HOME: env.home });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/redisPassword/);
      expect(r.stdout + r.stderr).not.toContain('hunter2-secret');
    }
  });
});
