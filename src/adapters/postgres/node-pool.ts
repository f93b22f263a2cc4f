/**
 * The node-postgres pool as the Node host needs it when the database connection can break at
 * any moment (a failover, a network cut):
 *
 * - drizzle's `transaction()` releases its client only once `BEGIN` succeeded: a `BEGIN` that
 *   fails because the connection broke would keep the client checked out for good, and after
 *   `max` such cuts every query waits for a connection until its deadline. The first query of a
 *   checked-out client that fails releases it (destroyed, never reused).
 * - A client that breaks while checked out (between two statements of a transaction) emits
 *   'error'; unheard, it would end the process. Every client gets a listener.
 */
import pg from 'pg';

export function nodePool(config: pg.PoolConfig, onError: (error: Error) => void): pg.Pool {
  return new ReleasingPool(config, onError);
}

class ReleasingPool extends pg.Pool {
  constructor(config: pg.PoolConfig, onError: (error: Error) => void) {
    super(config);
    // A connection that breaks while idle is reported here.
    this.on('error', onError);
    this.on('connect', (client) => client.on('error', onError));
  }

  // pg-pool's own `query()` uses the callback form, drizzle's `transaction()` the promise form.
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<pg.PoolClient> | void {
    if (callback) {
      super.connect((err, client, done) => callback(err, client ? releasingOnFirstFailure(client) : client, done));
      return;
    }
    return super.connect().then(releasingOnFirstFailure);
  }
}

/** The client, whose first query (drizzle's BEGIN) releases it, broken, when it fails. */
function releasingOnFirstFailure(client: pg.PoolClient): pg.PoolClient {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  let first = true;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    if (first && result instanceof Promise) {
      // The caller still sees the rejection; the client goes back broken, so the pool drops it.
      result.catch((error: unknown) => client.release(error instanceof Error ? error : new Error(String(error))));
    }
    first = false;
    return result;
  };
  return client;
}
