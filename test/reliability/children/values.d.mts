export function makeValue(id: string, size?: number): string;
export function checkValue(value: Buffer | string | null | undefined): string | null;
export function sleep(ms: number): Promise<void>;
