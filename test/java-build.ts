/**
 * The Apache Kafka jars (kafka-clients and tools 4.1.1, fetched by Maven
 * into .cache/kafka-jars the first time) and the test's Java programs
 * (test/java/*.java) compiled once against them: the classes are cached
 * under .cache/java-classes/<hash of the sources>, so every test file and
 * every run after the first reuses one compile.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const jars = join(root, '.cache', 'kafka-jars');
const sources = join(__dirname, 'java');

/** The Kafka jars' classpath, fetching them with Maven when missing. */
export function kafkaJars(): string {
  const have = () => existsSync(jars) && readdirSync(jars).some((f) => f.startsWith('kafka-clients-4.1'));
  if (!have()) {
    const pom = join(root, 'test', 'kafka', 'pom.xml');
    if (!existsSync(pom)) throw new Error(`no Kafka jars in ${jars} and no ${pom} to fetch them with`);
    const r = spawnSync(
      'mvn',
      ['-q', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${jars}`],
      { encoding: 'utf8', timeout: 600_000 },
    );
    if (r.status !== 0) throw new Error(`mvn failed: ${r.stdout}${r.stderr}`);
  }
  return join(jars, '*');
}

/** The classpath of the compiled test programs plus the Kafka jars. */
export function javaClasspath(): string {
  const jarPath = kafkaJars();
  const files = readdirSync(sources)
    .filter((f) => f.endsWith('.java'))
    .sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(join(sources, f)));
  const dir = join(root, '.cache', 'java-classes', hash.digest('hex').slice(0, 16));
  if (!existsSync(dir)) {
    // Compiled aside and renamed into place: parallel test files never
    // see half a compile.
    const tmp = `${dir}.tmp-${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    const javac = spawnSync('javac', ['-cp', jarPath, '-d', tmp, ...files.map((f) => join(sources, f))], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    if (javac.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`javac failed: ${javac.stderr}`);
    }
    try {
      renameSync(tmp, dir);
    } catch {
      // Another worker won the race: its classes are the same.
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return `${dir}:${jarPath}`;
}
