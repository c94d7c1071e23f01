// A content hash of a run config minus operational fields: stands in for the store's runId in pure tests
// of planning and tables (the store's own id is tested in test/experiments/store-ids.test.ts).
import { createHash } from 'node:crypto';
import type { RunIdFn } from '../../src/experiments/plan';
import type { RunConfig } from '../../src/runs/types';

export const contentId: RunIdFn = (config: RunConfig, dataHash: string) => {
  const { name: _n, ...rest } = config as RunConfig & { keepCheckpointsAt?: number[] };
  delete (rest as { keepCheckpointsAt?: number[] }).keepCheckpointsAt;
  return createHash('sha256').update(JSON.stringify([rest, dataHash])).digest('hex').slice(0, 12);
};
