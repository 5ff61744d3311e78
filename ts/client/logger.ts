/** Logging with kafkajs' levels, `logCreator` protocol and namespaces. */

export enum logLevel {
  NOTHING = 0,
  ERROR = 1,
  WARN = 2,
  INFO = 4,
  DEBUG = 5,
}

export interface LoggerEntryContent {
  readonly timestamp: string;
  readonly message: string;
  // biome-ignore lint/suspicious/noExplicitAny: kafkajs types the extra fields `any`, and logCreators written for it read them freely
  [key: string]: any;
}

export interface LogEntry {
  namespace: string;
  level: logLevel;
  label: string;
  log: LoggerEntryContent;
}

export type logCreator = (logLevel: logLevel) => (entry: LogEntry) => void;

export interface Logger {
  info(message: string, extra?: object): void;
  error(message: string, extra?: object): void;
  warn(message: string, extra?: object): void;
  debug(message: string, extra?: object): void;
  namespace(namespace: string, logLevel?: logLevel): Logger;
  setLogLevel(logLevel: logLevel): void;
}

/** The default: one JSON line per entry on the console, as kafkajs prints them. */
export const defaultLogCreator: logCreator = () => (entry) => {
  const line = JSON.stringify({
    level: entry.label,
    ...entry.log,
    logger: 'ferrolog',
    namespace: entry.namespace,
  });
  if (entry.level === logLevel.ERROR) console.error(line);
  else if (entry.level === logLevel.WARN) console.warn(line);
  else console.log(line);
};

function envLevel(fallback: logLevel): logLevel {
  const name = (process.env.KAFKAJS_LOG_LEVEL ?? '').toUpperCase();
  const v = (logLevel as unknown as Record<string, logLevel | undefined>)[name];
  return typeof v === 'number' ? v : fallback;
}

export function createLogger(
  level: logLevel = logLevel.INFO,
  creator: logCreator = defaultLogCreator,
): Logger {
  const root = { level: envLevel(level) };
  const write = creator(root.level);
  const make = (namespace: string, own: logLevel | null): Logger => {
    const current = (): logLevel => own ?? root.level;
    const emit =
      (lvl: logLevel, label: string) =>
      (message: string, extra: object = {}) => {
        if (lvl > current()) return;
        write({
          namespace,
          level: lvl,
          label,
          // kafkajs' fields in kafkajs' order; `logger` names the library.
          log: { timestamp: new Date().toISOString(), logger: 'ferrolog', message, ...extra },
        });
      };
    return {
      info: emit(logLevel.INFO, 'INFO'),
      error: emit(logLevel.ERROR, 'ERROR'),
      warn: emit(logLevel.WARN, 'WARN'),
      debug: emit(logLevel.DEBUG, 'DEBUG'),
      namespace: (ns, lvl) => make(ns, lvl === undefined ? own : envLevel(lvl)),
      setLogLevel: (lvl) => {
        root.level = lvl;
      },
    };
  };
  return make('', null);
}
