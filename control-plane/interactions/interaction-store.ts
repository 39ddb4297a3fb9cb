/**
 * Interactions in Postgres: what a run's harness asked the user, its answer, and whether the
 * machine has it. Rows are written from the run's events in the transaction that stores them
 * (`interaction-events.ts`), answered by a compare-and-set on state 'pending'
 * (`answer`), and acknowledged by the machine (`markDelivered`).
 *
 *   interaction event ─▶ pending (run WAITING) ─┬─ AnswerInteraction / approval timeout ─▶ answered ─▶ ack ─▶ delivered
 *                                              ├─ interaction_resolved WITHDRAWN ─────────▶ withdrawn
 *                                              └─ the run's done ─────────────────────────▶ closed
 *
 * Every change to a run's interactions is made with the run's row locked (`for update`), so event
 * batches, answers and the run's end are serialized per run and the run's WAITING/RUNNING state
 * always agrees with its pending rows. Each change is announced on `interaction_changed` (watchers
 * on any replica read the row back); an answer also on `interaction_answer`, for the replica that
 * holds the link's session.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Sql, TransactionSql } from 'postgres';
import type { Logger } from '../../common/log.js';
import {
  InteractionAnswerSchema,
  InteractionKind,
  InteractionSchema,
  InteractionState,
  type AllowRule,
  type Interaction,
  type InteractionAnswer,
} from '../../gen/link/v1/run_pb.js';
import { notify, type Notifications } from '../notifications.js';
import { allowRulesInTx } from './interaction-events.js';

export type InteractionStateName = 'pending' | 'answered' | 'withdrawn' | 'closed';

/** An interaction as the store hands it out. */
export interface InteractionEntry {
  runId: string;
  interactionId: string;
  threadId: string | null;
  userId: string;
  linkId: string;
  seq: bigint;
  kind: InteractionKind;
  interaction: Interaction;
  state: InteractionStateName;
  answer: InteractionAnswer | undefined;
  deliveredAt: Date | null;
  deadline: Date | null;
  createdAt: Date;
  threadTitle: string;
  harness: string;
}

/** Why an answer was not taken (see `answer`). */
export type AnswerRefusal =
  | { refused: 'not_found' }
  | { refused: 'already_answered'; winner: InteractionAnswer }
  | { refused: 'withdrawn' }
  | { refused: 'run_finished' };

/** What `answer` is asked to store. */
export interface AnswerInput {
  userId: string;
  runId: string;
  interactionId: string;
  /** The answer without who and when (the store stamps `answered_by` and `answered_at`). */
  answer: InteractionAnswer;
  answeredBy: string;
  /**
   * Checks the answer against what was asked (the kind decides what it must hold) once the row is
   * read; throws to refuse it (nothing is written).
   */
  check?: (interaction: Interaction) => void;
}

/** An answer waiting for the machine. */
export interface UndeliveredAnswer {
  runId: string;
  interactionId: string;
  answer: InteractionAnswer;
}

interface InteractionRow {
  run_id: string;
  interaction_id: string;
  thread_id: string | null;
  user_id: string;
  link_id: string;
  seq: string;
  kind: 'permission' | 'question';
  interaction: Buffer;
  state: InteractionStateName;
  answer: Buffer | null;
  delivered_at: Date | null;
  deadline: Date | null;
  created_at: Date;
  thread_title: string | null;
  harness: string | null;
}

/** The columns an entry is read from (`i` the interaction, `t` its thread, `r` its run). */
const ENTRY_COLUMNS = `i.run_id, i.interaction_id, i.thread_id, i.user_id, i.link_id, i.seq::text, i.kind, i.interaction, i.state,
  i.answer, i.delivered_at, i.deadline, i.created_at, t.title as thread_title, r.harness`;
const ENTRY_FROM = `interactions i join runs r on r.id = i.run_id left join threads t on t.id = i.thread_id`;

const UNFINISHED_RUN = ['queued', 'dispatched', 'running', 'waiting'];

/** The proto state of a stored one. */
export function interactionState(state: InteractionStateName): InteractionState {
  switch (state) {
    case 'pending':
      return InteractionState.PENDING;
    case 'answered':
      return InteractionState.ANSWERED;
    case 'withdrawn':
      return InteractionState.WITHDRAWN;
    case 'closed':
      return InteractionState.CLOSED;
  }
}

function entry(row: InteractionRow): InteractionEntry {
  return {
    runId: row.run_id,
    interactionId: row.interaction_id,
    threadId: row.thread_id,
    userId: row.user_id,
    linkId: row.link_id,
    seq: BigInt(row.seq),
    kind: row.kind === 'question' ? InteractionKind.QUESTION : InteractionKind.PERMISSION,
    interaction: fromBinary(InteractionSchema, new Uint8Array(row.interaction)),
    state: row.state,
    answer: row.answer ? fromBinary(InteractionAnswerSchema, new Uint8Array(row.answer)) : undefined,
    deliveredAt: row.delivered_at,
    deadline: row.deadline,
    createdAt: row.created_at,
    threadTitle: row.thread_title ?? '',
    harness: row.harness ?? '',
  };
}

/** A change an `interaction_changed` listener hears. */
export interface InteractionChange {
  runId: string;
  interactionId: string;
}

export class InteractionStore {
  private readonly watchers = new Map<string, Set<(change: InteractionChange | 'resync') => void>>();
  private readonly stopListening: (() => void)[] = [];

  private constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
  ) {}

  /** The store on `sql`; watchers hear `interaction_changed` through `notifications`, and read again after a LISTEN reconnect. */
  static open(sql: Sql, notifications: Notifications, log: Logger): InteractionStore {
    const store = new InteractionStore(sql, log);
    store.stopListening.push(
      notifications.on('interaction_changed', ({ userId, runId, interactionId }) => store.wake(userId, { runId, interactionId })),
      notifications.onReconnect(() => {
        for (const userId of store.watchers.keys()) store.wake(userId, 'resync');
      }),
    );
    return store;
  }

  close(): void {
    for (const stop of this.stopListening.splice(0)) stop();
  }

  /**
   * Calls `listener` for each change to an interaction of `userId` heard on this replica, and with
   * 'resync' after a LISTEN reconnect (changes may have been missed: read what changed since).
   * Returns the function that stops it.
   */
  onChange(userId: string, listener: (change: InteractionChange | 'resync') => void): () => void {
    let set = this.watchers.get(userId);
    if (!set) this.watchers.set(userId, (set = new Set()));
    set.add(listener);
    return () => {
      set!.delete(listener);
      if (set!.size === 0) this.watchers.delete(userId);
    };
  }

  private wake(userId: string, change: InteractionChange | 'resync'): void {
    for (const listener of [...(this.watchers.get(userId) ?? [])]) {
      try {
        listener(change);
      } catch (error) {
        this.log.error({ err: error }, 'an interaction watcher failed');
      }
    }
  }

  /**
   * Answers a pending interaction of `userId`'s run: a compare-and-set on state 'pending', with the
   * run's row locked, so of answers given at once on any replicas exactly one wins. The winner's
   * transaction also adds a THREAD-scope answer's suggested rule to the thread's allow rules, puts
   * the run back to RUNNING when nothing else is pending, and announces the answer (to the replica
   * holding the session, and to watchers). Returns the answered entry, or why it was not taken.
   */
  async answer(input: AnswerInput, scopeThread: boolean): Promise<{ answered: InteractionEntry } | AnswerRefusal> {
    const answeredAt = new Date();
    const answer = create(InteractionAnswerSchema, { ...input.answer, answeredBy: input.answeredBy, answeredAt: timestampFromDate(answeredAt) });
    return this.sql.begin(async (tx) => {
      const [run] = await tx<{ user_id: string; state: string; link_id: string; thread_id: string | null }[]>`
        select user_id, state, link_id, thread_id from runs where id = ${input.runId} for update`;
      if (!run || run.user_id !== input.userId) return { refused: 'not_found' as const };
      const [row] = await tx<InteractionRow[]>`
        select ${tx.unsafe(ENTRY_COLUMNS)} from ${tx.unsafe(ENTRY_FROM)} where i.run_id = ${input.runId} and i.interaction_id = ${input.interactionId}`;
      if (!row) return { refused: 'not_found' as const };
      const asked = entry(row);
      input.check?.(asked.interaction);
      if (asked.state === 'answered') return { refused: 'already_answered' as const, winner: asked.answer ?? create(InteractionAnswerSchema) };
      if (asked.state === 'withdrawn') return { refused: 'withdrawn' as const };
      if (asked.state === 'closed') return { refused: 'run_finished' as const };
      if (!UNFINISHED_RUN.includes(run.state)) {
        // Left pending by a run that ended without closing it: closed now, so no sweep tries it again.
        await tx`update interactions set state = 'closed', changed_at = now() where run_id = ${input.runId} and interaction_id = ${input.interactionId} and state = 'pending'`;
        return { refused: 'run_finished' as const };
      }
      const updated = await tx<{ run_id: string }[]>`
        update interactions set state = 'answered', answer = ${Buffer.from(toBinary(InteractionAnswerSchema, answer))},
          answered_by = ${input.answeredBy}, answered_at = ${answeredAt}, changed_at = now()
        where run_id = ${input.runId} and interaction_id = ${input.interactionId} and state = 'pending'
        returning run_id`;
      if (updated.length === 0) return { refused: 'already_answered' as const, winner: asked.answer ?? create(InteractionAnswerSchema) };
      const rule = asked.interaction.suggestedRule;
      if (scopeThread && run.thread_id && rule?.tool) {
        await tx`
          insert into thread_allow_rules (thread_id, tool, command_prefix, created_by)
          values (${run.thread_id}, ${rule.tool}, ${rule.commandPrefix}, ${input.answeredBy})
          on conflict (thread_id, tool, command_prefix) do nothing`;
      }
      await tx`
        update runs set state = 'running' where id = ${input.runId} and state = 'waiting'
          and not exists (select 1 from interactions where run_id = ${input.runId} and state = 'pending')`;
      await notify(tx, 'interaction_answer', { linkId: run.link_id });
      await notify(tx, 'interaction_changed', { userId: run.user_id, runId: input.runId, interactionId: input.interactionId });
      return { answered: { ...asked, state: 'answered' as const, answer } };
    });
  }

  /**
   * Answers not yet acknowledged by the machine, of the link's unfinished runs that session
   * `epoch` holds, oldest first: what that session sends (again, after a reconnect).
   */
  async undelivered(linkId: string, epoch: bigint): Promise<UndeliveredAnswer[]> {
    const rows = await this.sql<{ run_id: string; interaction_id: string; answer: Buffer }[]>`
      select i.run_id, i.interaction_id, i.answer from interactions i join runs r on r.id = i.run_id
      where i.link_id = ${linkId} and i.state = 'answered' and i.delivered_at is null and i.answer is not null
        and r.session_epoch = ${String(epoch)} and r.state in ('dispatched', 'running', 'waiting')
      order by i.answered_at, i.created_at`;
    return rows.map((row) => ({ runId: row.run_id, interactionId: row.interaction_id, answer: fromBinary(InteractionAnswerSchema, new Uint8Array(row.answer)) }));
  }

  /**
   * The machine acknowledged the answer: it is not sent again, and watchers see it delivered.
   * Only an answer of a run of `linkId`; false when there was nothing to mark (already marked, or not its).
   */
  async markDelivered(linkId: string, runId: string, interactionId: string): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      const rows = await tx<{ user_id: string }[]>`
        update interactions set delivered_at = now(), changed_at = now()
        where run_id = ${runId} and interaction_id = ${interactionId} and link_id = ${linkId} and state = 'answered' and delivered_at is null
        returning user_id`;
      for (const row of rows) await notify(tx, 'interaction_changed', { userId: row.user_id, runId, interactionId });
      return rows.length > 0;
    });
  }

  /** One interaction of `userId` (undefined when there is none, or it is another user's). */
  async get(userId: string, runId: string, interactionId: string): Promise<InteractionEntry | undefined> {
    const [row] = await this.sql<InteractionRow[]>`
      select ${this.sql.unsafe(ENTRY_COLUMNS)} from ${this.sql.unsafe(ENTRY_FROM)}
      where i.run_id = ${runId} and i.interaction_id = ${interactionId} and i.user_id = ${userId}`;
    return row && entry(row);
  }

  /**
   * The user's interactions, oldest first: the pending ones (all of them), or with
   * `includeResolved` the newest 200 of any state; optionally of one thread or one run.
   */
  async list(userId: string, filter: { includeResolved?: boolean; threadId?: string; runId?: string } = {}): Promise<InteractionEntry[]> {
    const sql = this.sql;
    const thread = filter.threadId ? sql`and i.thread_id = ${filter.threadId}` : sql``;
    const run = filter.runId ? sql`and i.run_id = ${filter.runId}` : sql``;
    const rows = filter.includeResolved
      ? await sql<InteractionRow[]>`
          select * from (select ${sql.unsafe(ENTRY_COLUMNS)} from ${sql.unsafe(ENTRY_FROM)}
            where i.user_id = ${userId} ${thread} ${run} order by i.created_at desc limit 200) newest
          order by created_at, run_id, interaction_id`
      : await sql<InteractionRow[]>`
          select ${sql.unsafe(ENTRY_COLUMNS)} from ${sql.unsafe(ENTRY_FROM)}
          where i.user_id = ${userId} and i.state = 'pending' ${thread} ${run} order by i.created_at, i.run_id, i.interaction_id limit 1000`;
    return rows.map(entry);
  }

  /** The user's interactions changed at or after `since` (by the database's clock), and the database's time now. */
  async changedSince(userId: string, since: Date): Promise<{ entries: InteractionEntry[]; now: Date }> {
    const [{ now }] = await this.sql<{ now: Date }[]>`select now() as now`;
    const rows = await this.sql<InteractionRow[]>`
      select ${this.sql.unsafe(ENTRY_COLUMNS)} from ${this.sql.unsafe(ENTRY_FROM)}
      where i.user_id = ${userId} and i.changed_at >= ${since} order by i.changed_at limit 1000`;
    return { entries: rows.map(entry), now };
  }

  /** The database's clock (a watcher's starting point for `changedSince`). */
  async now(): Promise<Date> {
    const [{ now }] = await this.sql<{ now: Date }[]>`select now() as now`;
    return now;
  }

  /** Pending interactions per run of `runIds` (runs without any are left out). */
  async pendingByRun(runIds: readonly string[]): Promise<Map<string, number>> {
    if (runIds.length === 0) return new Map();
    const rows = await this.sql<{ run_id: string; n: number }[]>`
      select run_id, count(*)::int as n from interactions where state = 'pending' and run_id = any(${[...runIds]}::text[]) group by run_id`;
    return new Map(rows.map((r) => [r.run_id, r.n]));
  }

  /** Pending interactions per thread of `threadIds` (threads without any are left out). */
  async pendingByThread(threadIds: readonly string[]): Promise<Map<string, number>> {
    if (threadIds.length === 0) return new Map();
    const rows = await this.sql<{ thread_id: string; n: number }[]>`
      select thread_id, count(*)::int as n from interactions where state = 'pending' and thread_id = any(${[...threadIds]}::text[]) group by thread_id`;
    return new Map(rows.map((r) => [r.thread_id, r.n]));
  }

  /** The thread's "always allow" rules, oldest first. */
  async allowRules(threadId: string): Promise<AllowRule[]> {
    return (await allowRulesInTx(this.sql, [threadId])).get(threadId) ?? [];
  }

  /** Pending interactions whose approval deadline has passed (by the database's clock), oldest first. */
  async overdue(limit = 100): Promise<{ userId: string; runId: string; interactionId: string; deadline: Date; createdAt: Date }[]> {
    const rows = await this.sql<{ user_id: string; run_id: string; interaction_id: string; deadline: Date; created_at: Date }[]>`
      select user_id, run_id, interaction_id, deadline, created_at from interactions
      where state = 'pending' and deadline is not null and deadline <= now() order by deadline limit ${limit}`;
    return rows.map((r) => ({ userId: r.user_id, runId: r.run_id, interactionId: r.interaction_id, deadline: r.deadline, createdAt: r.created_at }));
  }
}
