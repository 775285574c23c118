// The Pea's control token: what the operator sends with every Lifecycle call and the sidecar
// checks (--token-file; on the wire: src/shared/bearer.ts). It is derived, not stored:
// HMAC-SHA256 of the Pea's UID under the operator's token key. So the operator never reads a
// Pea's Secret (its RBAC may only create them; the one Secret it reads is its own key's),
// and a restarted operator, or another replica holding the same key, computes the same token.
// Each Pea's Secret (owned by the Pea, so it goes with it) is mounted into the sidecar only.
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Pea } from '../api/v1alpha1/types.js';
import type { Logger } from '../shared/logger.js';
import { isConflict, isNotFound } from './errors.js';
import { LABEL_MANAGED, LABEL_PEA, MANAGER, ownedBy, podName, TOKEN_FILE, tokenSecretName } from './pod.js';

/** The Pea's control token: HMAC-SHA256 of its UID under the operator's token key. */
export function peaToken(tokenKey: Buffer, pea: Pea): string {
  return createHmac('sha256', tokenKey)
    .update(pea.metadata.uid as string)
    .digest('base64url');
}

/**
 * The hook token of the Pea's current pod: what its preStop hook sends to /prestop. Apart
 * from the control token because it sits in the pod spec in clear (an httpGet hook can only
 * send literal headers), so reading a pod never yields the token for Cancel, Status and
 * Watch; per pod (the pod's name is in it) so one run's token never opens another's hook.
 */
export function hookToken(tokenKey: Buffer, pea: Pea): string {
  return createHmac('sha256', tokenKey)
    .update(`prestop:${pea.metadata.uid as string}:${podName(pea)}`)
    .digest('base64url');
}

/** The Pea's token Secret, owned by the Pea; the sidecar mounts it as its --token-file. */
export function buildTokenSecret(pea: Pea, tokenKey: Buffer): V1Secret {
  const name = pea.metadata.name as string;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: tokenSecretName(pea),
      namespace: pea.metadata.namespace,
      labels: { [LABEL_PEA]: name, [LABEL_MANAGED]: MANAGER },
      ownerReferences: [ownedBy(pea)],
    },
    type: 'Opaque',
    stringData: { [TOKEN_FILE]: peaToken(tokenKey, pea) },
  };
}

/** Where the operator keeps its key when no --token-key-file is given. */
export interface KeySecret {
  core: CoreV1Api;
  namespace: string;
  name: string;
}

/**
 * The operator's key: from --token-key-file when given; else from a Secret in the operator's
 * namespace, created with 32 random bytes by whichever replica gets there first, so that
 * restarts and other replicas derive the same tokens. Failing both, a random key for this
 * process: Peas it started are then cancelled through pod deletion (the preStop hook) after
 * a restart, never stranded.
 */
export async function loadTokenKey(
  file: string | undefined,
  secret: KeySecret | undefined,
  log: Logger,
): Promise<Buffer> {
  if (file) {
    const key = readFileSync(file);
    if (key.length < 16)
      throw new Error(
        `--token-key-file ${file} holds ${key.length} bytes; ` +
          'use at least 16 random bytes (e.g. head -c 32 /dev/urandom)',
      );
    return key;
  }
  if (secret) {
    try {
      return await keyFromSecret(secret);
    } catch (err) {
      log.warn(
        { secret: `${secret.namespace}/${secret.name}`, err },
        'cannot read or create the control-token key Secret; using a random key for this process only: ' +
          "check the operator's RBAC (get on that Secret, create secrets) and that its namespace exists",
      );
      return randomBytes(32);
    }
  }
  log.warn('no control-token key configured: using a random key for this process only');
  return randomBytes(32);
}

async function keyFromSecret({ core, namespace, name }: KeySecret): Promise<Buffer> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const s = await core.readNamespacedSecret({ namespace, name });
      const data = s.data?.[TOKEN_KEY_FIELD];
      if (!data) {
        const what = `Secret ${namespace}/${name} has no "${TOKEN_KEY_FIELD}"`;
        throw new Error(`${what}: delete it and the operator makes a new one`);
      }
      return Buffer.from(data, 'base64');
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      const data = { [TOKEN_KEY_FIELD]: randomBytes(32).toString('base64') };
      const body = { metadata: { name, namespace }, type: 'Opaque', data };
      await core.createNamespacedSecret({ namespace, body });
    } catch (err) {
      if (!isConflict(err)) throw err; // another replica won: read theirs
    }
  }
  throw new Error(`Secret ${namespace}/${name} kept disappearing`);
}

/** The field of the token-key Secret (--token-key-secret) that holds the operator's token key. */
const TOKEN_KEY_FIELD = 'key';
