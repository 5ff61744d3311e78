#!/usr/bin/env node
/**
 * The `ferrolog` command: finds the command on the line, hands it the rest
 * (global options may stand anywhere), and prints errors as one clear line
 * (a stack under --verbose) with exit code 1. Each command is a file of
 * ./commands; conventions follow Kafka's shell tools and kcat.
 *
 * Output pipes well: progress lines only when stderr is a terminal, no
 * colours.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaJSAggregateError, KafkaJSError } from '../errors';
import { splitCommand, suggest, UsageError } from './args';
import { BENCH_HARNESS, bench } from './commands/bench';
import type { Command } from './commands/command';
import { consume } from './commands/consume';
import { dump } from './commands/dump';
import { groups } from './commands/groups';
import { MIRROR_HELP, mirrorCommand } from './commands/mirror';
import { produce } from './commands/produce';
import { serveCommand } from './commands/serve';
import { topics } from './commands/topics';
import { verify } from './commands/verify';

const MAIN_HELP = `usage: ferrolog [global options] <command> [options]

commands:
  topics     list, create, describe, delete and alter topics
  produce    write lines (or JSON objects) from stdin or a file to a topic
  consume    print a topic's messages, waiting for new ones (optionally as a group)
  groups     list and describe consumer groups, their offsets and lag; reset offsets
  dump       print the batches (and records) of a segment file
  verify     check (and --repair) a data directory with the engine's recovery
  serve      serve the data directory over the Kafka protocol (kcat, kafkajs, Java clients)
  mirror     copy topics between a data directory and Kafka brokers, resumably
  bench      run the comparison benchmark (npm run bench)

global options, anywhere on the line:
  --data-dir DIR        the data directory (default ./ferrolog-data, or $FERROLOG_DATA_DIR);
                        when another process serves it, commands go through its broker
  -b, --brokers H:P,..  work against Kafka brokers instead (any Kafka cluster)
  --ssl, --ssl-ca FILE, --ssl-cert FILE, --ssl-key FILE, --ssl-servername NAME
  --sasl-mechanism plain|scram-sha-256|scram-sha-512, --sasl-username U,
  --sasl-password P (or $FERROLOG_SASL_PASSWORD)
  --verbose (stack traces), -h/--help, -V/--version

examples:
  ferrolog topics create orders --partitions 3 --config retention.ms=86400000
  seq 1 1000 | ferrolog produce orders
  ferrolog consume orders --from-beginning --max-messages 10
  ferrolog --brokers kafka-1:9092 groups describe my-group
  ferrolog verify`;

const mirror: Command = {
  name: 'mirror',
  help: MIRROR_HELP,
  run: async (argv) => {
    process.exitCode = await mirrorCommand(argv);
  },
};

const COMMANDS: Command[] = [topics, produce, consume, groups, dump, verify, serveCommand, mirror, bench];

function help(text: string): void {
  // An installed package has no harness: its help does not offer the command.
  const shown = existsSync(BENCH_HARNESS) ? text : text.replace(/^ {2}bench .*\n/m, '');
  process.stdout.write(`${shown}\n`);
}

/** The installed package's version: package.json sits two levels up from both ts/cli and dist/cli. */
function version(): void {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  process.stdout.write(`${pkg.version}\n`);
}

async function main(argv: string[]): Promise<void> {
  const { command, rest } = splitCommand(argv);
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  if (command === undefined || command === 'help') {
    if (rest.includes('--version') || rest.includes('-V')) return version();
    if (command === undefined && rest.length > 0 && !wantsHelp)
      throw new UsageError(`no command given (see ferrolog --help)`);
    return help(MAIN_HELP);
  }
  const c = COMMANDS.find((x) => x.name === command);
  if (c === undefined) {
    const names = COMMANDS.map((x) => x.name);
    throw new UsageError(`unknown command "${command}"${suggest(command, names)} (see ferrolog --help)`);
  }
  if (c === bench) return c.run(rest);
  if (wantsHelp) return help(c.help);
  return c.run(rest);
}

// A reader that goes away (`| head`) ends the command quietly, as Unix tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2))
  .then(() => {
    // Remote clients and waiters may hold handles: a finished command ends,
    // once what it printed has been handed to stdout.
    process.stdout.write('', () => process.exit(process.exitCode ?? 0));
  })
  .catch((e: unknown) => {
    const verbose = process.argv.includes('--verbose');
    const err = e as Error;
    const kind = e instanceof UsageError ? '' : e instanceof KafkaJSError ? `${err.name}: ` : '';
    // kafkajs' aggregate (e.g. createTopics) says only that several things failed: name each.
    const inner =
      e instanceof KafkaJSAggregateError
        ? `: ${e.errors.map((x) => String((x as Error).message ?? x)).join('; ')}`
        : '';
    process.stderr.write(`ferrolog: ${kind}${err.message}${inner}\n`);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
