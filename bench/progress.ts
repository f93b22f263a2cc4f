/**
 * Progress on stderr, so stdout carries only the final table (pipe it, diff it). Each line
 * carries the time since the run began, which is what a person watching wants to know.
 */
const started = performance.now();

const elapsed = () => ((performance.now() - started) / 1000).toFixed(1).padStart(5);

/** One progress line. */
export function say(message: string): void {
  process.stderr.write(`[bench ${elapsed()}s] ${message}\n`);
}

/** Repeats `line()` every `everyMs` while a long step runs; call the result to stop. */
export function ticker(line: () => string, everyMs = 1_000): () => void {
  const timer = setInterval(() => say(line()), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Thousands separators, the way the table prints counts. */
export const int = (n: number): string => Math.round(n).toLocaleString('en-US');
