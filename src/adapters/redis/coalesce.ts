/**
 * Scripts sent together: every script call made in one turn of the event loop (for example the
 * takes of all the requests Node read from its sockets in one poll) goes to Upstash as one
 * `/pipeline` request. Each call is still exactly one `EVALSHA`, atomic on its own; only the
 * HTTP request that carries it is shared. Under a flash sale this turns hundreds of HTTP
 * requests per second into a few dozen, which is where the client's and the REST endpoint's
 * CPU went.
 *
 * Node only. A Worker must not share one fetch between requests (workerd refuses I/O started
 * by another request), so the Worker keeps the Upstash client's own auto-pipelining, which
 * batches only within one request.
 *
 * A pipeline is one request of the Upstash client, so it fails as the client's requests do: the
 * client's retries (`redisClient`: one, 20 ms later — safe, every script in it is idempotent)
 * and its abort after `timeoutMs`. Each caller's wait is bounded by its own deadline
 * (`withDeadline`), not by the slowest call that shares its pipeline.
 */
import type { Redis } from '@upstash/redis/cloudflare';
import { hex } from '../../util/hex.js';
import type { ScriptRunner } from './redis-gauge.js';

interface Call {
  script: CoalescedScript;
  keys: string[];
  args: string[];
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** The part of the Upstash client a coalescer sends with. */
export type PipelineClient = Pick<Redis, 'pipeline'>;

export interface CoalescerOptions {
  redis: PipelineClient;
  /** Most script calls in one pipeline; a turn with more sends several (default 500). */
  maxBatch?: number;
}

class CoalescedScript {
  /** SHA-1 of the source, as Redis names the script; computed once, before the first send. */
  readonly sha: Promise<string>;

  constructor(
    readonly source: string,
    private readonly owner: ScriptCoalescer,
  ) {
    this.sha = crypto.subtle.digest('SHA-1', new TextEncoder().encode(source)).then(hex);
  }

  /** Runs the script by `EVALSHA` in the next pipeline (`EVAL` when Redis does not know it). */
  exec(keys: string[], args: string[]): Promise<unknown> {
    return this.owner.enqueue(this, keys, args);
  }
}

export class ScriptCoalescer {
  private readonly redis: PipelineClient;
  private readonly maxBatch: number;
  private queue: Call[] = [];
  private scheduled = false;
  /** Pipelines sent so far (for tests and the benchmark). */
  pipelines = 0;

  constructor(options: CoalescerOptions) {
    this.redis = options.redis;
    this.maxBatch = options.maxBatch ?? 500;
  }

  /** A script whose calls join the pipeline of the current turn. */
  createScript(source: string): CoalescedScript {
    return new CoalescedScript(source, this);
  }

  enqueue(script: CoalescedScript, keys: string[], args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ script, keys, args, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate runs after the poll phase: the calls of every request read in this turn
        // are queued by then. Where there is none (not Node), a macrotask does the same.
        if (typeof setImmediate === 'function') setImmediate(() => this.flush());
        else setTimeout(() => this.flush(), 0);
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const calls = this.queue;
    this.queue = [];
    for (let i = 0; i < calls.length; i += this.maxBatch) void this.send(calls.slice(i, i + this.maxBatch));
  }

  private async send(calls: Call[]): Promise<void> {
    try {
      const shas = await Promise.all(calls.map((c) => c.script.sha));
      const first = await this.run(calls.map((c, i) => ['evalsha', shas[i] ?? '', c]));
      // NOSCRIPT means the script did not run: sending its source is safe (once per script flush).
      const unknown: Call[] = [];
      first.forEach((reply, i) => {
        const call = calls[i];
        if (!call) return;
        if (reply.error?.includes('NOSCRIPT')) unknown.push(call);
        else settle(call, reply);
      });
      if (unknown.length === 0) return;
      const second = await this.run(unknown.map((c) => ['eval', c.script.source, c]));
      second.forEach((reply, i) => {
        const call = unknown[i];
        if (call) settle(call, reply);
      });
    } catch (error) {
      // The request itself failed (network, a 5xx, a timeout): the outcome of every call in it
      // is unknown, and each caller answers so (a retry with the same Idempotency-Key is safe).
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const call of calls) call.reject(failure);
    }
  }

  private async run(entries: ['evalsha' | 'eval', string, Call][]): Promise<{ error?: string; result?: unknown }[]> {
    const pipeline = this.redis.pipeline();
    for (const [command, script, call] of entries) {
      if (command === 'evalsha') pipeline.evalsha(script, call.keys, call.args);
      else pipeline.eval(script, call.keys, call.args);
    }
    this.pipelines += 1;
    return pipeline.exec({ keepErrors: true });
  }
}

function settle(call: Call, reply: { error?: string; result?: unknown }): void {
  if (reply.error) call.reject(new Error(`Command failed: ${reply.error}`));
  else call.resolve(reply.result);
}

/** Script runners for the gauge whose calls are coalesced per event-loop turn. */
export function coalescedRunner(options: CoalescerOptions): ScriptRunner & { coalescer: ScriptCoalescer } {
  const coalescer = new ScriptCoalescer(options);
  return { coalescer, createScript: (source) => coalescer.createScript(source) };
}
