/**
 * Settings from a config file: used where no flag or environment variable gives the setting, and
 * refused at start, naming the setting, when unknown or invalid.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runLinkd, repoRoot, spawnTracked } from './helpers/processes.js';
import { tempDir } from './helpers/temp.js';

async function configFile(settings: unknown): Promise<string> {
  const file = join(await tempDir('config-'), 'config.json');
  await writeFile(file, JSON.stringify(settings));
  return file;
}

describe('config files', () => {
  it('linkd start takes its settings from the file; a flag or the environment wins over it', async () => {
    const dataDir = await tempDir('linkd-');
    const file = await configFile({ server: 'http://192.0.2.7:9090', 'token-file': join(dataDir, 'token') });
    const fromFile = await runLinkd(['start', '--config', file, '--data-dir', dataDir]);
    assert.equal(fromFile.code, 1);
    assert.match(fromFile.output, /refusing to connect to http:\/\/192\.0\.2\.7:9090 without TLS/, 'the server came from the file');
    const fromFlag = await runLinkd(['start', '--config', file, '--data-dir', dataDir, '--server', 'http://192.0.2.8:9090']);
    assert.match(fromFlag.output, /192\.0\.2\.8/);
    const fromEnv = await runLinkd(['start', '--config', file, '--data-dir', dataDir], { LINKD_SERVER: 'http://192.0.2.9:9090' });
    assert.match(fromEnv.output, /192\.0\.2\.9/);
  });

  it('an unknown setting or an invalid value stops start-up, naming the setting', async () => {
    const unknown = await runLinkd(['start', '--config', await configFile({ 'max-concurent-runs': 3 })]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.output, /unknown setting "max-concurent-runs"/);
    const invalid = await runLinkd(['start', '--config', await configFile({ 'max-concurrent-runs': 1000 })]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.output, /setting "max-concurrent-runs": must be/);
    const server = spawnTracked('link-server', process.execPath, [join(repoRoot, 'bin', 'link-server.js'), 'serve', '--config', await configFile({ grpcPort: 'ninety' })]);
    const { code } = await server.waitForExit(15_000);
    assert.equal(code, 1);
    assert.match(server.output, /setting "grpcPort": must be a whole number/);
  });
});
