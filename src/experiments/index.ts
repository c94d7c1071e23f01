// Experiments of the paper as data (definitions, scale), their expansion into run DAGs (plan), and the
// calls notebooks make to run them (run). `import * as mt from 'midtrain'` → mt.experiments.*
export * from './definitions';
export * from './scale';
export * from './plan';
export * from './result';
export { allResults, type AllResults, type ProximityAnalysis } from '../report/analysis';
export * from './run';
export * from './workers';
