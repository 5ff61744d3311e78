/**
 * The kafkajs program and the README's typed examples compile against the
 * declarations ferrolog publishes (`dist/index.d.ts`, emitted here into a
 * temporary directory), not only against its sources: what a user installs.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers';

const root = join(__dirname, '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function run(args: string[]): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [tsc, ...args], { cwd: root, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('published declarations', () => {
  it('compile the kafkajs program and the typed examples in strict mode', () => {
    const out = tempDir();
    const emitted = run(['-p', 'tsconfig.json', '--emitDeclarationOnly', '--declaration', '--outDir', out]);
    expect(emitted.output).toBe('');
    expect(emitted.status).toBe(0);
    const config = join(out, 'tsconfig.json');
    writeFileSync(
      config,
      JSON.stringify({
        extends: join(root, 'test', 'types', 'tsconfig.json'),
        compilerOptions: {
          paths: { ferrolog: [join(out, 'index.d.ts')] },
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        files: [
          join(root, 'test', 'types', 'kafkajs-program.ts'),
          join(root, 'test', 'types', 'readme-typed.ts'),
        ],
      }),
    );
    const compiled = run(['-p', config]);
    expect(compiled.output).toBe('');
    expect(compiled.status).toBe(0);
  }, 120_000);
});
