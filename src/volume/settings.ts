/**
 * What a volume is, as every component sees it: block size, compression, encryption parameters,
 * where its blocks live. A leaf module (imports nothing of flexfs), so store/, codec/ and meta/
 * can all use these types without importing each other. The metadata engines persist them; the
 * server hands them to mounts.
 */

/** Settings a mount needs to read and write blocks. Never contains the data key or passphrase. */
export interface VolumeSettings {
  id: string;
  name: string;
  blockSize: number;
  compression: 'lz4' | 'none';
  /** Present for end-to-end encrypted volumes: what the mount needs to unwrap the data key. */
  encryption?: EncryptionParams;
  /**
   * 1 on end-to-end encrypted volumes created since names are encrypted too: the mount seals entry
   * names, symlink targets and xattrs (src/meta/name-crypt.ts) and the server only accepts the
   * sealed form. Absent on older E2E volumes, whose names stay plaintext.
   */
  nameEncryption?: 1;
  /** Where blocks live, as a store URL (`file:///dir`, `s3://bucket/prefix`) plus S3 settings. */
  blockStore: BlockStoreSettings;
  /** Seconds superseded blocks are kept before gc may delete them. */
  retentionSeconds: number;
  /** Optional proxy group `host:port` list. */
  proxies?: string[];
}

export interface EncryptionParams {
  kdf: 'scrypt';
  /** base64 */
  salt: string;
  N: number;
  r: number;
  p: number;
  /** base64: nonce|ciphertext|tag of the data key under the key-encryption key. */
  wrappedKey: string;
  /** base64: proves a passphrase right without trying a block. */
  verifier: string;
}

export interface BlockStoreSettings {
  url: string;
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  sse?: boolean;
  /** 'static' uses blockUser/blockPass handed out by the server; 'ambient' uses each host's own chain. */
  credentials?: 'static' | 'ambient';
  blockUser?: string;
  blockPass?: string;
  assumeRoleArn?: string;
  stsEndpoint?: string;
}
