/**
 * The shell harness: the message is a command line for `bash -c --`; every output line is a log
 * event; the exit code decides completed (0) or failed. The `--` ends bash's options, so a message
 * that starts with a dash (`-x`, `--version; echo hi`) is still the command, never an option.
 */
import { RunStatus, LogLine_Stream } from '../../gen/link/v1/run_pb.js';
import type { HarnessAdapter, OutputParser } from './harness.js';
import { killedBy, RunFailure } from '../../common/reasons.js';

export const shellHarness: HarnessAdapter = {
  name: 'shell',
  binary: 'bash',
  interruptSignal: 'SIGINT',
  command(payload) {
    return { file: 'bash', args: ['-c', '--', payload.prompt] };
  },
  parser(_payload, cwd): OutputParser {
    let started = false;
    return {
      line(text, stream) {
        const events = [];
        if (!started) {
          started = true;
          events.push({ event: { case: 'started' as const, value: { harness: 'shell', cwd } } });
        }
        events.push({
          event: { case: 'log' as const, value: { stream: stream === 'stdout' ? LogLine_Stream.STDOUT : LogLine_Stream.STDERR, text } },
        });
        return events;
      },
      finish({ code, signal, cancelled, reason, killed }) {
        const events = [];
        if (!started) events.push({ event: { case: 'started' as const, value: { harness: 'shell', cwd } } });
        const status = cancelled ? (reason === RunFailure.Cancelled ? RunStatus.CANCELLED : RunStatus.FAILED) : code === 0 ? RunStatus.COMPLETED : RunStatus.FAILED;
        events.push({
          event: {
            case: 'done' as const,
            value: {
              status,
              exitCode: code ?? -1,
              failureReason: cancelled ? reason || RunFailure.Cancelled : code === 0 ? '' : signal ? killedBy(signal) : RunFailure.ExitCode,
              killed,
            },
          },
        });
        return events;
      },
    };
  },
};
