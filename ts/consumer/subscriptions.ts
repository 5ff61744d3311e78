/**
 * What a consumer subscribed to (names and RegExps, each with its
 * `fromBeginning`) and what it paused (whole topics or some partitions).
 * Pure bookkeeping: the consumer applies it to its partition loops.
 */

export type Matcher = string | RegExp;

export class Subscriptions {
  private readonly entries: { matcher: Matcher; fromBeginning: boolean }[] = [];
  private readonly pausedTopics = new Map<string, Set<number> | 'all'>();

  add(matcher: Matcher, fromBeginning: boolean): void {
    this.entries.push({ matcher, fromBeginning });
  }

  get size(): number {
    return this.entries.length;
  }

  hasRegExp(): boolean {
    return this.entries.some((s) => s.matcher instanceof RegExp);
  }

  /** Whether a RegExp subscription matches `topic` (a topic created later). */
  regExpMatches(topic: string): boolean {
    return this.entries.some((s) => s.matcher instanceof RegExp && s.matcher.test(topic));
  }

  /** The subscribed topics among `names` (internal topics never match a RegExp), sorted. */
  topics(names: string[]): string[] {
    const visible = names.filter((n) => !n.startsWith('__'));
    const out = new Set<string>();
    for (const s of this.entries) {
      if (typeof s.matcher === 'string') out.add(s.matcher);
      else for (const n of visible) if (s.matcher.test(n)) out.add(n);
    }
    return [...out].sort();
  }

  fromBeginningFor(topic: string): boolean {
    for (const s of this.entries) {
      if (typeof s.matcher === 'string' ? s.matcher === topic : s.matcher.test(topic)) return s.fromBeginning;
    }
    return false;
  }

  isPaused(topic: string, partition: number): boolean {
    const p = this.pausedTopics.get(topic);
    return p === 'all' || p?.has(partition) === true;
  }

  /** Pauses a whole topic (`partitions` undefined) or some of its partitions. */
  pause(topic: string, partitions: number[] | undefined): void {
    if (partitions === undefined) {
      this.pausedTopics.set(topic, 'all');
      return;
    }
    const cur = this.pausedTopics.get(topic);
    if (cur === 'all') return;
    const set = cur ?? new Set<number>();
    for (const p of partitions) set.add(p);
    this.pausedTopics.set(topic, set);
  }

  /** Resumes a whole topic or some partitions; `partitionCount` expands a paused whole topic. */
  resume(topic: string, partitions: number[] | undefined, partitionCount: number): void {
    if (partitions === undefined) {
      this.pausedTopics.delete(topic);
      return;
    }
    const cur = this.pausedTopics.get(topic);
    if (cur === 'all') {
      const set = new Set(Array.from({ length: partitionCount }, (_, i) => i));
      for (const p of partitions) set.delete(p);
      this.pausedTopics.set(topic, set);
    } else if (cur !== undefined) for (const p of partitions) cur.delete(p);
  }

  /** kafkajs' `paused()`. */
  paused(partitionCount: (topic: string) => number): { topic: string; partitions: number[] }[] {
    const out: { topic: string; partitions: number[] }[] = [];
    for (const [topic, p] of this.pausedTopics) {
      const n = partitionCount(topic);
      const partitions = p === 'all' ? Array.from({ length: n }, (_, i) => i) : [...p].sort((a, b) => a - b);
      if (partitions.length > 0) out.push({ topic, partitions });
    }
    return out;
  }
}
