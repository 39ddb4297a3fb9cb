/**
 * The command lines the CLI harnesses are started with: the model is one argv element
 * (`--model=<name>`), so no model name is ever read by a CLI's parser as a flag of its own.
 */
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { claudeCodeHarness } from '../../agent/harnesses/claude-code.js';
import { geminiHarness } from '../../agent/harnesses/gemini.js';
import { RunPayloadSchema } from '../../gen/link/v1/run_pb.js';

describe('harness command lines', () => {
  // Codex gets its model in a JSON message, never on its command line (codex-bidi.test.ts).
  for (const harness of [claudeCodeHarness, geminiHarness]) {
    it(`${harness.name} gets the model as one --model=<name> element`, () => {
      const { args } = harness.command(create(RunPayloadSchema, { runId: 'run_1', harness: harness.name, prompt: 'hi', model: '--yolo' }), '/tmp');
      assert.ok(args.includes('--model=--yolo'), `args: ${args.join(' ')}`);
      assert.ok(!args.includes('--yolo'), 'the model name is never an argv element of its own');
      assert.ok(!args.includes('--model'), 'no separate value after --model');
    });

    it(`${harness.name} without a model leaves the CLI's default`, () => {
      const { args } = harness.command(create(RunPayloadSchema, { runId: 'run_1', harness: harness.name, prompt: 'hi' }), '/tmp');
      assert.ok(!args.some((a) => a.startsWith('--model')), `args: ${args.join(' ')}`);
    });
  }
});
