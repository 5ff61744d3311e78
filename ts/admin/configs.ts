/**
 * describeConfigs and alterConfigs over the engine's topic configs, in
 * Kafka's terms: a topic's value is a TOPIC_CONFIG override, the data
 * directory's `defaultTopicConfig` plays the broker's server.properties
 * (STATIC_BROKER_CONFIG), and the engine's built-in value is the
 * DEFAULT_CONFIG. Synonyms name the broker-level config Kafka would list.
 */
import { KafkaJSProtocolError } from '../errors';
import { kafkaCode } from '../kafka-codes';
import { type ConfigEntries, ConfigResourceTypes, ConfigSource, type ConfigSynonyms } from '../types/kafkajs';

/** The engine's built-in topic config (what a topic created without config gets). */
export const ENGINE_DEFAULTS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'delete',
  flush: 'none',
  'index.interval.bytes': '4096',
  'max.message.bytes': '1048588',
  'message.timestamp.type': 'CreateTime',
  'retention.bytes': '-1',
  'retention.ms': '604800000',
  'segment.bytes': '1073741824',
  'segment.ms': '604800000',
  'segment.preallocate.bytes': '67108864',
};

/** Kafka's broker-level name of each topic config (ferrolog's own `flush*` have none). */
const BROKER_SYNONYM: Readonly<Record<string, string>> = {
  'cleanup.policy': 'log.cleanup.policy',
  'index.interval.bytes': 'log.index.interval.bytes',
  'max.message.bytes': 'message.max.bytes',
  'message.timestamp.type': 'log.message.timestamp.type',
  'retention.bytes': 'log.retention.bytes',
  'retention.ms': 'log.retention.ms',
  'segment.bytes': 'log.segment.bytes',
  'segment.ms': 'log.roll.ms',
};

/** Names the engine accepts beyond those it reports. */
const ALSO_SETTABLE = new Set(['flush.ms', 'flush.messages']);

export function isKnownConfig(name: string): boolean {
  return name in ENGINE_DEFAULTS || ALSO_SETTABLE.has(name);
}

function sourceOf(name: string, value: string, dirDefaults: Record<string, string>): ConfigSource {
  if (dirDefaults[name] === value) return ConfigSource.STATIC_BROKER_CONFIG;
  if (ENGINE_DEFAULTS[name] === value) return ConfigSource.DEFAULT_CONFIG;
  return ConfigSource.TOPIC_CONFIG;
}

/** One resource's entries, in kafkajs' DescribeConfigs v1 shape. */
export function describeTopicConfig(
  current: Record<string, string>,
  dirDefaults: Record<string, string>,
  configNames: string[] | undefined,
  includeSynonyms: boolean,
): ConfigEntries[] {
  const names = Object.keys(current)
    .filter((n) => configNames === undefined || configNames.length === 0 || configNames.includes(n))
    .sort();
  return names.map((configName) => {
    const configValue = current[configName] as string;
    const configSource = sourceOf(configName, configValue, dirDefaults);
    const configSynonyms: ConfigSynonyms[] = [];
    if (includeSynonyms) {
      if (configSource === ConfigSource.TOPIC_CONFIG)
        configSynonyms.push({ configName, configValue, configSource });
      const broker = BROKER_SYNONYM[configName] ?? configName;
      const dir = dirDefaults[configName];
      if (dir !== undefined)
        configSynonyms.push({
          configName: broker,
          configValue: dir,
          configSource: ConfigSource.STATIC_BROKER_CONFIG,
        });
      const builtIn = ENGINE_DEFAULTS[configName];
      if (builtIn !== undefined)
        configSynonyms.push({
          configName: broker,
          configValue: builtIn,
          configSource: ConfigSource.DEFAULT_CONFIG,
        });
    }
    return {
      configName,
      configValue,
      readOnly: false,
      isDefault: configSource === ConfigSource.DEFAULT_CONFIG,
      configSource,
      isSensitive: false,
      configSynonyms,
    };
  });
}

/** The broker resource: the directory's defaults under Kafka's broker names. */
export function describeBrokerConfig(
  dirDefaults: Record<string, string>,
  configNames: string[] | undefined,
  includeSynonyms: boolean,
): ConfigEntries[] {
  const entries = Object.keys(BROKER_SYNONYM).map((topicName) => {
    const configName = BROKER_SYNONYM[topicName] as string;
    const dir = dirDefaults[topicName];
    const builtIn = ENGINE_DEFAULTS[topicName] as string;
    const configSource = dir === undefined ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG;
    const configSynonyms: ConfigSynonyms[] = [];
    if (includeSynonyms) {
      if (dir !== undefined)
        configSynonyms.push({
          configName,
          configValue: dir,
          configSource: ConfigSource.STATIC_BROKER_CONFIG,
        });
      configSynonyms.push({ configName, configValue: builtIn, configSource: ConfigSource.DEFAULT_CONFIG });
    }
    return {
      configName,
      configValue: dir ?? builtIn,
      // Kafka's static broker configs cannot be changed without a restart.
      readOnly: true,
      isDefault: configSource === ConfigSource.DEFAULT_CONFIG,
      configSource,
      isSensitive: false,
      configSynonyms,
    };
  });
  return entries
    .filter(
      (e) => configNames === undefined || configNames.length === 0 || configNames.includes(e.configName),
    )
    .sort((a, b) => (a.configName < b.configName ? -1 : 1));
}

/**
 * Kafka's AlterConfigs replaces a resource's whole set of overrides: a
 * config it does not name goes back to its default. Returns the entries to
 * hand the engine.
 */
export function replacementConfig(
  current: Record<string, string>,
  dirDefaults: Record<string, string>,
  entries: { name: string; value: string }[],
): Record<string, string> {
  const next: Record<string, string> = {};
  for (const [name, value] of Object.entries(current)) {
    if (sourceOf(name, value, dirDefaults) === ConfigSource.TOPIC_CONFIG) {
      const fallback = dirDefaults[name] ?? ENGINE_DEFAULTS[name];
      if (fallback !== undefined) next[name] = fallback;
    }
  }
  for (const e of entries) {
    if (!isKnownConfig(e.name)) {
      throw new KafkaJSProtocolError(
        `Unknown topic config name: ${e.name}`,
        'INVALID_CONFIG',
        kafkaCode('INVALID_CONFIG'),
        false,
      );
    }
    next[e.name] = e.value;
  }
  return next;
}

export const VALID_RESOURCE_TYPES: readonly number[] = [
  ConfigResourceTypes.UNKNOWN,
  ConfigResourceTypes.TOPIC,
  ConfigResourceTypes.BROKER,
  ConfigResourceTypes.BROKER_LOGGER,
];
