/**
 * A message's permission mode between the API's enum and the name the `runs` row stores.
 */
import { PermissionMode } from '../../gen/link/v1/run_pb.js';
import type { PermissionModeName } from '../runs/run-record.js';

/** The stored name of a request's mode; UNSPECIFIED is the default, EDITS. */
export function permissionModeName(mode: PermissionMode): PermissionModeName {
  return mode === PermissionMode.ASK ? 'ask' : mode === PermissionMode.AUTO ? 'auto' : 'edits';
}

/** The API's value of a stored mode. */
export function permissionMode(name: PermissionModeName | undefined): PermissionMode {
  return name === 'ask' ? PermissionMode.ASK : name === 'auto' ? PermissionMode.AUTO : PermissionMode.EDITS;
}
