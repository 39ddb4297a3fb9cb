/**
 * Gemini CLI's `session/update` notifications (ACP) as Link's normalized events, for one turn:
 *
 *   agent_message_chunk            → text, one event per message: chunks are joined until something
 *                                    else happens (a thought, a tool call, a permission request, the
 *                                    end of the turn or of the process)
 *   agent_thought_chunk            → reasoning, joined the same way
 *   tool_call                      → tool call
 *   tool_call_update (completed,   → tool result; an edit's diff is also a file change
 *                     failed)
 *   user_message_chunk, plan,      → nothing (the person's own message; the CLI's menus and modes)
 *   available_commands_update, …
 *
 * A tool that needed permission is not announced by the CLI before it runs (the permission request
 * carries the call), and a denied one is never mentioned again: `announce` and `denied` fill in.
 */
import type { SessionUpdate, ToolCallUpdate } from '@agentclientprotocol/sdk';
import type { EventInit } from '../runs/outbox.js';
import { inputOf, textOfContent, toolNameOf } from './gemini-permissions.js';

export class GeminiTurnEvents {
  private text = '';
  private thought = '';
  /** Tool calls announced (toolCall sent), by id; `done` once their result is out. */
  private readonly calls = new Map<string, { name: string; done: boolean }>();

  /** The events for one update (with the text or reasoning it ends, first). */
  update(update: SessionUpdate): EventInit[] {
    switch (update.sessionUpdate) {
      case 'agent_message_chunk': {
        // The CLI announces a mode change as a message of its own ("[MODE_UPDATE] autoEdit").
        if (update.content.type !== 'text' || (!this.text && update.content.text.startsWith('[MODE_UPDATE] '))) return [];
        const events = this.flushThought();
        this.text += update.content.text;
        return events;
      }
      case 'agent_thought_chunk': {
        if (update.content.type !== 'text') return [];
        const events = this.flushText();
        this.thought += update.content.text;
        return events;
      }
      case 'tool_call':
      case 'tool_call_update':
        return [...this.flush(), ...this.announce(update), ...this.settle(update)];
      default:
        return [];
    }
  }

  /** A tool call's first mention: its toolCall event, once. */
  announce(call: ToolCallUpdate & { name?: string | null }): EventInit[] {
    if (this.calls.has(call.toolCallId)) return [];
    const name = toolNameOf(call);
    this.calls.set(call.toolCallId, { name, done: false });
    return [...this.flush(), { event: { case: 'toolCall', value: { id: call.toolCallId, name, inputJson: JSON.stringify(inputOf(call)) } } }];
  }

  /** A denied tool call: the CLI skips it silently, so its result says so, in the words the model gets. */
  denied(toolCallId: string): EventInit[] {
    const call = this.calls.get(toolCallId);
    if (!call || call.done) return [];
    call.done = true;
    return [{ event: { case: 'toolResult', value: { id: toolCallId, output: `Tool "${call.name}" was canceled by the user.`, isError: true } } }];
  }

  /** The text and reasoning not yet sent (at the end of a turn or of the process). */
  flush(): EventInit[] {
    return [...this.flushThought(), ...this.flushText()];
  }

  private settle(update: ToolCallUpdate): EventInit[] {
    const call = this.calls.get(update.toolCallId);
    if (!call || call.done || (update.status !== 'completed' && update.status !== 'failed')) return [];
    call.done = true;
    const isError = update.status === 'failed';
    const events: EventInit[] = [{ event: { case: 'toolResult', value: { id: update.toolCallId, output: textOfContent(update.content), isError } } }];
    if (isError) return events;
    for (const content of update.content ?? []) {
      if (content.type !== 'diff') continue;
      const meta = content._meta as { kind?: unknown } | null | undefined;
      const kind = meta?.kind === 'delete' ? 'delete' : content.oldText ? 'update' : 'add';
      events.push({ event: { case: 'fileChange', value: { path: content.path, kind } } });
    }
    return events;
  }

  private flushText(): EventInit[] {
    if (!this.text) return [];
    const text = this.text;
    this.text = '';
    return [{ event: { case: 'text', value: { text } } }];
  }

  private flushThought(): EventInit[] {
    if (!this.thought) return [];
    const text = this.thought;
    this.thought = '';
    return [{ event: { case: 'reasoning', value: { text } } }];
  }
}
