/** Types for jars.mjs (the tests import it from TypeScript). */
export const KAFKA_VERSION: string;
export const REPO_ROOT: string;
export const JARS_DIR: string;
export function javaAvailable(): boolean;
export function mavenAvailable(): boolean;
export function ensureKafkaJars(): string;
export function classpath(): string;
export function runKafkaClass(
  mainClass: string,
  args: string[],
  options?: { heap?: string; timeoutMs?: number },
): { status: number | null; stdout: string; stderr: string };
