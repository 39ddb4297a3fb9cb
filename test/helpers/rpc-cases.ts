/**
 * Hostile requests made from generated descriptors, for the RPC fuzz suite: one hostile value at a
 * time, in each field of a message, its nested messages, oneofs and lists.
 */
import { clone, create, ScalarType, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';

/** Strings an attacker sends: NUL, over the 64 KiB floor, empty, paths, long ids, unicode, flags, SQL. */
export const HOSTILE_STRINGS = [
  'a\u0000b',
  'x'.repeat(70 * 1024),
  '',
  '../../etc/passwd',
  'id_'.repeat(400),
  'ünï©ødé 💥 \u202e\u0301',
  '-oProxyCommand=touch /tmp/pwned',
  "'; drop table users; --",
];

/** Values of a scalar type at or past its edges (and past Postgres's). */
export function hostileScalars(type: ScalarType, strings = HOSTILE_STRINGS): unknown[] {
  switch (type) {
    case ScalarType.STRING:
      return strings;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return [2n ** 64n - 1n, 2n ** 63n];
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return [-1n, -(2n ** 63n), 2n ** 63n - 1n];
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return [2 ** 32 - 1];
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return [-1, -(2 ** 31), 2 ** 31 - 1];
    case ScalarType.BYTES:
      return [new Uint8Array(70 * 1024)];
    default:
      return [];
  }
}

/** One hostile request: the field path that carries the hostile value, and the request. */
export interface Case {
  field: string;
  request: Message;
}

/**
 * One hostile value at a time in `baseline`, in every field reachable within `depth` messages (lists
 * also get 2,000 entries, enums unknown numbers), from the descriptor: a new field is covered at once.
 */
export function cases(schema: DescMessage, baseline: Message, depth = 3, prefix = '', strings = HOSTILE_STRINGS): Case[] {
  const out: Case[] = [];
  const withValue = (field: DescField, mutate: (r: ReturnType<typeof reflect>) => void, path: string) => {
    const request = clone(schema, baseline);
    mutate(reflect(schema, request));
    out.push({ field: path, request });
  };
  for (const field of schema.fields) {
    const path = prefix + field.name;
    switch (field.fieldKind) {
      case 'scalar':
        for (const value of hostileScalars(field.scalar, strings)) withValue(field, (r) => r.set(field, value), path);
        break;
      case 'enum':
        for (const value of [999, -5]) withValue(field, (r) => r.set(field, value), path);
        break;
      case 'message':
        if (depth === 0) break;
        for (const inner of cases(field.message, create(field.message), depth - 1, `${path}.`, strings)) {
          withValue(field, (r) => r.set(field, reflect(field.message, inner.request)), inner.field);
        }
        break;
      case 'list':
        if (field.listKind === 'message') {
          withValue(field, (r) => {
            const list = r.get(field);
            for (let i = 0; i < 2_000; i++) list.add(reflect(field.message, create(field.message)));
          }, path);
          if (depth === 0) break;
          for (const inner of cases(field.message, create(field.message), depth - 1, `${path}.`, strings)) {
            withValue(field, (r) => r.get(field).add(reflect(field.message, inner.request)), inner.field);
          }
        } else if (field.listKind === 'scalar') {
          for (const value of hostileScalars(field.scalar, strings)) withValue(field, (r) => r.get(field).add(value), path);
        } else {
          withValue(field, (r) => r.get(field).add(999), path);
        }
        break;
      case 'map':
        break;
    }
  }
  return out;
}
