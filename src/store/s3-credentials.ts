import {
  createCredentialChain, fromInstanceMetadata, fromNodeProviderChain, fromTemporaryCredentials,
} from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { hideUserInfo } from './redact.js';
import { TIMEOUTS } from '../config/defaults.js';

export interface S3CredentialSettings {
  blockUser?: string;
  blockPass?: string;
  assumeRoleArn?: string;
  stsEndpoint?: string;
  region: string;
  /** IMDS connect/answer timeout; short so a host outside EC2 does not stall (default 1000 ms). */
  imdsTimeoutMs?: number;
}

/** Which source the credentials come from, for logs (never the values). */
export function describeCredentialSource(s: Omit<S3CredentialSettings, 'region'>): string {
  const base = s.blockPass ? 'static blockUser/blockPass' : 'EC2 instance role, then the default AWS chain';
  return s.assumeRoleArn ? `${base}, assuming role ${s.assumeRoleArn}` : base;
}

/**
 * Credentials for the S3 client (DESIGN §7):
 * 1. blockPass set → static blockUser/blockPass;
 * 2. else the EC2 instance role via IMDS (short timeout, no retries; skipped when
 *    AWS_EC2_METADATA_DISABLED=true), then the default Node chain (env, shared config/credentials
 *    files, web identity, SSO, process, container);
 * 3. with assumeRoleArn, the above are the source credentials for STS AssumeRole, sent to
 *    stsEndpoint when given (temporary credentials are refreshed before they expire).
 */
/**
 * A credentials failure, with a message we built (no SDK text, no values). The S3 error mapper
 * turns it into AccessDenied.
 */
export class CredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlexfsCredentialsError';
  }
}

export function credentialProvider(s: S3CredentialSettings): AwsCredentialIdentity | AwsCredentialIdentityProvider {
  let base: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  if (s.blockPass) {
    if (!s.blockUser) throw new Error('bucket credentials: blockPass is set but blockUser is empty');
    base = { accessKeyId: s.blockUser, secretAccessKey: s.blockPass };
  } else {
    const imdsDisabled = String(process.env.AWS_EC2_METADATA_DISABLED ?? '').toLowerCase() === 'true';
    const chain = fromNodeProviderChain();
    const ambient = imdsDisabled
      ? chain
      : createCredentialChain(fromInstanceMetadata({ timeout: s.imdsTimeoutMs ?? TIMEOUTS.imdsMs, maxRetries: 0 }), chain);
    base = explained(ambient,
      'no bucket credentials found (blockUser/blockPass empty, no EC2 instance role, nothing in the default AWS chain)');
  }
  if (!s.assumeRoleArn) return base;
  // The endpoint goes into messages: never with user info (user:secret@) in it.
  const where = s.stsEndpoint ? `STS at ${hideUserInfo(s.stsEndpoint.trim())}` : 'AWS STS';
  return explained(fromTemporaryCredentials({
    params: { RoleArn: s.assumeRoleArn, RoleSessionName: `flexfs-${process.pid}-${Date.now()}`, DurationSeconds: 3600 },
    masterCredentials: base,
    clientConfig: { region: s.region, ...(s.stsEndpoint ? { endpoint: s.stsEndpoint } : {}), maxAttempts: 3 },
  }), `cannot assume role ${s.assumeRoleArn} through ${where}`);
}

/** Wrap a provider so its failures become a CredentialsError with `what` and the error's name/status. */
function explained(p: AwsCredentialIdentityProvider, what: string): AwsCredentialIdentityProvider {
  return async (...args) => {
    try {
      return await p(...args);
    } catch (e) {
      const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number }; code?: string };
      const tag = [err.Code ?? err.name, err.$metadata?.httpStatusCode, err.code].filter((x) => x !== undefined && x !== '').join(' ');
      throw new CredentialsError(tag && !/^(CredentialsProviderError|ProviderError)$/.test(tag) ? `${what} (${tag})` : what);
    }
  };
}
