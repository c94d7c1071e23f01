// The training engine's public surface (the run store drives these; notebooks and tests may too).
export { pretrain, NonFiniteLossError, type PretrainOptions, type TrainHooks } from './pretrain';
export { sft, taskAccuracy, encodeExample, sftBatch, sftTotalSteps, type SftOptions, type SftResult } from './sft';
export { evaluate, evaluateRoles, roleValBatches } from './evaluate';
export { generate, type GenerateOptions } from './generate';
export { AdamW, lrAt, clipByGlobalNorm } from './optim';
export { MixtureSampler, weightsAt, valWindows, validateMixture } from './sampler';
export { readCheckpoint, writeCheckpoint, listCheckpoints, type Checkpoint } from './checkpoint';
