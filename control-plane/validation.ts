/**
 * The request validator every RPC passes before its handler runs: a walk over the message driven
 * by its protobuf-es descriptor (nested messages, oneofs, repeated and map fields included), so a
 * new field is checked the day it is added. It holds each value to what Postgres and the handlers
 * can take, and refuses anything else with INVALID_ARGUMENT INVALID_FIELD naming the field:
 *
 *   string   no NUL (U+0000: Postgres text cannot hold it), at most 64 KiB unless the table says
 *   integer  64-bit: within Postgres bigint (uint64 at most 2^63-1), and never negative where it is
 *            a seq, cursor, limit, offset, count, size or duration; 32-bit unsigned: within integer
 *   enum     one of the enum's own values (an unknown number would be stored as is); a stream of
 *            agent frames may be checked with `openEnums`, so that a newer linkd that knows a
 *            value this server does not is not refused (protobuf enums are open for that reason)
 *   repeated at most 1,024 entries (maps too) unless the table says
 *
 * The handlers keep their own, narrower checks (a required id, a name's charset, 1 to 64 bytes);
 * this is the floor under them. Field paths are the proto names joined by dots, without indexes
 * ("hello.capabilities.harnesses.name"), as the handlers name them.
 */
import { ScalarType, type DescEnum, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { Code, linkError, Reason } from '../common/errors.js';
import { MAX_MESSAGE_BYTES } from '../common/protocol.js';

/** What one field (or every field of one message type) may hold. */
export interface FieldRule {
  /** Largest string, in UTF-8 bytes. */
  maxBytes?: number;
  /** Strings may hold U+0000 (only where the value is stored as bytes, never in a text column). */
  allowNul?: boolean;
  /** Most entries of a repeated or map field. */
  maxItems?: number;
}

/** The floor for every field the table does not name. */
export const DEFAULT_RULE: Required<FieldRule> = { maxBytes: 64 * 1024, allowNul: false, maxItems: 1024 };

/** What an agent's run events carry: the CLI's own output, stored as serialized bytes. */
const RUN_OUTPUT: FieldRule = { maxBytes: MAX_MESSAGE_BYTES, allowNul: true };

/**
 * Rules larger than the floor, by field ("link.v1.SendMessageRequest.text") or by message type
 * ("link.v1.TextEvent": each of its fields). A field's own rule wins over its message's.
 */
export const FIELD_RULES: Record<string, FieldRule> = {
  // The user's message to the harness.
  'link.v1.SendMessageRequest.text': { maxBytes: 256 * 1024 },
  'link.v1.UpdateQueuedMessageRequest.text': { maxBytes: 256 * 1024 },
  // Run events of a batch: bounded by the frame (4 MiB), and under Postgres's 65,535 parameters
  // of the one insert a batch is stored with (4 per event); linkd sends at most MAX_EVENTS_PER_BATCH.
  'link.v1.RunEvents.events': { maxItems: 16_000 },
  // A machine's refusal text is cut to 1 KiB where it is stored: a long one must not end the session.
  'link.v1.SandboxFailure.message': { maxBytes: MAX_MESSAGE_BYTES },
  'link.v1.RunRejected.message': { maxBytes: MAX_MESSAGE_BYTES },
  // The output a run produced goes into run_events.body (bytea) untouched. What the control plane
  // copies into text columns (RunStarted's session id and cwd, RunDone's session id and failure
  // reason) keeps the floor.
  'link.v1.RunEvent.raw': RUN_OUTPUT,
  'link.v1.TextEvent': RUN_OUTPUT,
  'link.v1.ReasoningEvent': RUN_OUTPUT,
  'link.v1.ToolCall': RUN_OUTPUT,
  'link.v1.ToolResult': RUN_OUTPUT,
  'link.v1.FileChange': RUN_OUTPUT,
  'link.v1.LogLine': RUN_OUTPUT,
  'link.v1.RunError': RUN_OUTPUT,
  // What a run changed (a patch per file, capped by linkd at 256 KiB a file and 1 MiB in all; up
  // to 1,000 files), in a run event and in the machine's answer to GetSandboxChanges.
  'link.v1.FileDiff': RUN_OUTPUT,
  'link.v1.RunChanges.files': { maxItems: 1_000 },
  // What a harness asks the user goes into interactions.interaction (bytea) as sent: the tool's
  // input and an edit's diff up to 256 KiB, like run output. The id is a text column's key (at
  // most 128 bytes, no NUL), and a suggested rule's words go into thread_allow_rules (no NUL).
  'link.v1.Interaction': { maxBytes: 256 * 1024, allowNul: true },
  'link.v1.Interaction.id': { maxBytes: 128 },
  'link.v1.Question': { maxBytes: 256 * 1024, allowNul: true },
  'link.v1.QuestionOption': { maxBytes: 256 * 1024, allowNul: true },
  'link.v1.InteractionResolved.interaction_id': { maxBytes: 128 },
};

/** Postgres bigint, and integer for 32-bit unsigned values. */
const BIGINT_MAX = 2n ** 63n - 1n;
const INTEGER_MAX = 2 ** 31 - 1;
/** 64-bit signed fields with these names count something and are never negative. */
const NON_NEGATIVE = /(^|_)(seq|cursor|limit|offset|count|size|bytes|ms)$/;

/**
 * Checks a decoded request against `rules` (FIELD_RULES by default) and the floor. Stateless and
 * cheap (one pass over what is set); the RPC edge calls it for every request and stream frame.
 */
export class RequestValidator {
  /** Each field's rule, merged once (the fields are the schema's own objects, so few and lasting). */
  private readonly merged = new Map<DescField, Required<FieldRule>>();

  constructor(private readonly rules: Record<string, FieldRule> = FIELD_RULES) {}

  /**
   * Throws INVALID_ARGUMENT INVALID_FIELD (metadata `field`, and `max` or `value` where it helps)
   * at the first value out of bounds; returns nothing otherwise. Never changes the message.
   */
  check(schema: DescMessage, message: Message, options: { openEnums?: boolean } = {}): void {
    this.walk(reflect(schema, message), '', options.openEnums ?? false);
  }

  private walk(message: ReflectMessage, prefix: string, openEnums: boolean): void {
    const checkEnum = openEnums ? () => undefined : checkKnownEnum;
    for (const field of message.fields) {
      if (!message.isSet(field)) continue;
      const path = prefix + field.name;
      const rule = this.ruleFor(field);
      switch (field.fieldKind) {
        case 'scalar':
          checkScalar(field.scalar, message.get(field), path, rule);
          break;
        case 'enum':
          checkEnum(field, message.get(field) as number, path);
          break;
        case 'message':
          this.walk(message.get(field) as ReflectMessage, `${path}.`, openEnums);
          break;
        case 'list': {
          const list = message.get(field);
          checkCount(list.size, path, rule);
          for (const item of list) {
            if (field.listKind === 'scalar') checkScalar(field.scalar, item, path, rule);
            else if (field.listKind === 'enum') checkEnum(field, item as number, path);
            else this.walk(item as ReflectMessage, `${path}.`, openEnums);
          }
          break;
        }
        case 'map': {
          const map = message.get(field);
          checkCount(map.size, path, rule);
          for (const [key, value] of map) {
            checkScalar(field.mapKey, key, `${path}.key`, rule);
            if (field.mapKind === 'scalar') checkScalar(field.scalar, value, path, rule);
            else if (field.mapKind === 'enum') checkEnum(field, value as number, path);
            else this.walk(value as ReflectMessage, `${path}.`, openEnums);
          }
          break;
        }
      }
    }
  }

  private ruleFor(field: DescField): Required<FieldRule> {
    let rule = this.merged.get(field);
    if (!rule) {
      rule = { ...DEFAULT_RULE, ...this.rules[field.parent.typeName], ...this.rules[`${field.parent.typeName}.${field.name}`] };
      this.merged.set(field, rule);
    }
    return rule;
  }
}

function invalid(path: string, message: string, metadata: Record<string, string> = {}) {
  return linkError(Code.InvalidArgument, Reason.InvalidField, message, { field: path, ...metadata });
}

function checkCount(count: number, path: string, rule: Required<FieldRule>): void {
  if (count > rule.maxItems) throw invalid(path, `${path} has ${count} entries; at most ${rule.maxItems}`, { max: String(rule.maxItems) });
}

function checkScalar(type: ScalarType, value: unknown, path: string, rule: Required<FieldRule>): void {
  switch (type) {
    case ScalarType.STRING: {
      const text = value as string;
      if (!rule.allowNul && text.includes('\0')) throw invalid(path, `${path} must not contain NUL (U+0000)`);
      // Cheap bound first: a UTF-8 byte is at most one UTF-16 unit, a unit at most 3 bytes.
      if (text.length * 3 > rule.maxBytes) {
        const bytes = Buffer.byteLength(text, 'utf8');
        if (bytes > rule.maxBytes) throw invalid(path, `${path} must be at most ${rule.maxBytes} bytes, got ${bytes}`, { max: String(rule.maxBytes), length: String(bytes) });
      }
      return;
    }
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      if (BigInt(value as bigint) > BIGINT_MAX) throw outOfRange(path, value, '0', String(BIGINT_MAX));
      return;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      if (NON_NEGATIVE.test(path.slice(path.lastIndexOf('.') + 1)) && BigInt(value as bigint) < 0n) throw outOfRange(path, value, '0', String(BIGINT_MAX));
      return;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      if ((value as number) > INTEGER_MAX) throw outOfRange(path, value, '0', String(INTEGER_MAX));
      return;
    default:
      return;
  }
}

function outOfRange(path: string, value: unknown, min: string, max: string) {
  return invalid(path, `${path} must be ${min} to ${max}, got ${String(value)}`, { min, max, value: String(value) });
}

function checkKnownEnum(field: DescField, value: number, path: string): void {
  const type = (field as { enum?: DescEnum }).enum;
  if (type && !type.values.some((v) => v.number === value)) {
    const known = type.values.map((v) => v.name).join(', ');
    throw invalid(path, `${path} is not a known ${type.name} (one of ${known}); got ${value}`, { value: String(value) });
  }
}
