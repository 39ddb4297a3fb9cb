/**
 * An optional JSON config file for a command's options (`--config FILE`, or LINK_SERVER_CONFIG /
 * LINKD_CONFIG). Precedence: flag, then environment, then the file, then the default. Keys are the
 * option names (`grpc-port` or `grpcPort`); a key the command does not know, or a value its option
 * refuses, stops start-up with the name of the setting.
 */
import { readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';

export function applyConfigFile(command: Command, file: string | undefined): void {
  if (!file) return;
  let values: Record<string, unknown>;
  try {
    values = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`config file ${file}: ${(error as Error).message}`);
  }
  if (!values || typeof values !== 'object' || Array.isArray(values)) throw new Error(`config file ${file}: must hold one JSON object of settings`);
  const options = new Map<string, Option>();
  for (const option of command.options as Option[]) {
    options.set(option.attributeName(), option);
    options.set(option.long?.replace(/^--/, '') ?? '', option);
  }
  for (const [key, raw] of Object.entries(values)) {
    const option = options.get(key);
    if (!option || key === 'config') throw new Error(`config file ${file}: unknown setting "${key}" for ${command.name()}`);
    const name = option.attributeName();
    const source = command.getOptionValueSource(name);
    if (source === 'cli' || source === 'env') continue;
    let value: unknown = raw;
    try {
      if (option.isBoolean()) {
        if (typeof raw !== 'boolean') throw new Error('must be true or false');
      } else {
        const text = Array.isArray(raw) ? raw.join(',') : String(raw);
        if (option.argChoices && !option.argChoices.includes(text)) throw new Error(`must be one of ${option.argChoices.join(', ')}`);
        value = option.parseArg ? option.parseArg(text, undefined as never) : text;
      }
    } catch (error) {
      throw new Error(`config file ${file}: setting "${key}": ${(error as Error).message}`);
    }
    command.setOptionValueWithSource(name, value, 'config');
  }
}
