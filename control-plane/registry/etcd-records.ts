/**
 * A presence record as the etcd registry stores it: JSON under `/link/v1/presence/<user>/<link>`.
 * A claim is written without its epoch (the epoch is the revision of that write); every later
 * rewrite carries the epoch along.
 */
import { fromJson, toJson } from '@bufbuild/protobuf';
import type { IKeyValue } from 'etcd3';
import { CapabilitiesSchema } from '../../gen/link/v1/types_pb.js';
import type { PresenceRecord } from './registry.js';

/** The JSON stored under a presence key. `epoch` is absent on a claim: it is the claim's revision. */
export interface StoredRecord {
  userId: string;
  linkId: string;
  epoch?: string;
  replicaId: string;
  machineId: string;
  instanceId: string;
  hostname: string;
  os: string;
  arch: string;
  agentVersion: string;
  capabilities: unknown;
  connectedAt: number;
  runningRunIds: string[];
  dispatchKeyMissing?: boolean;
}

/** The JSON of `record`; `withEpoch` false for a claim (its epoch is the revision of the write). */
export function store(record: PresenceRecord, withEpoch: boolean): StoredRecord {
  return {
    userId: record.userId,
    linkId: record.linkId,
    ...(withEpoch ? { epoch: String(record.epoch) } : {}),
    replicaId: record.replicaId,
    machineId: record.machineId,
    instanceId: record.instanceId,
    hostname: record.hostname,
    os: record.os,
    arch: record.arch,
    agentVersion: record.agentVersion,
    capabilities: toJson(CapabilitiesSchema, record.capabilities),
    connectedAt: record.connectedAt,
    runningRunIds: record.runningRunIds,
    ...(record.dispatchKeyMissing ? { dispatchKeyMissing: true } : {}),
  };
}

/** The record stored in `kv`. */
export function decode(kv: IKeyValue): PresenceRecord {
  const stored = JSON.parse(kv.value.toString()) as StoredRecord;
  return {
    userId: stored.userId,
    linkId: stored.linkId,
    // A claim's epoch is the revision that wrote it; later rewrites carry it along.
    epoch: BigInt(stored.epoch ?? kv.mod_revision),
    replicaId: stored.replicaId,
    machineId: stored.machineId,
    instanceId: stored.instanceId,
    hostname: stored.hostname,
    os: stored.os,
    arch: stored.arch,
    agentVersion: stored.agentVersion,
    capabilities: fromJson(CapabilitiesSchema, stored.capabilities as never),
    connectedAt: stored.connectedAt,
    runningRunIds: stored.runningRunIds ?? [],
    ...(stored.dispatchKeyMissing ? { dispatchKeyMissing: true } : {}),
  };
}
