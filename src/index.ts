// Public entry of the workbench library: `import * as mt from 'midtrain'` in notebooks, scripts and tests.
// Each module is exported under a namespace so names stay unambiguous in a notebook.
export * from './config';
export type * from './data/types';
export type * from './runs/types';
// Data layer: ensureData(preset) → tokenizer, token shards per role, SFT tasks; proximity; document samples.
export * as data from './data';
export { ensureData, sampleDocuments, proximityTable, dataPreset } from './data';
// Backend chooser (tensorflow → webgpu → native → wasm → cpu): `await mt.initBackend()` first in a notebook.
export * as backend from './backend/choose';
export { initBackend, currentBackend, releaseBackend } from './backend/choose';
export type { BackendName, BackendReport } from './backend/choose';
// Engine: the GPT (Pythia shapes), its presets and parameter counts.
export { MODEL_PRESETS, countParams, paramShapes } from './model/presets';
export * as gpt from './model/gpt';
// Notebook display (tables, plotly figures, progress) and static figure export (PNG + HTML).
export { show, plot, progress, loadPlotly, tableHtml, tableText, figureHtml, inNotebook } from './report/display';
export type { PlotlyFigure, PlotlyTrace, Progress, Tabular } from './report/display';
export { savePlot, figurePage } from './report/export';
// Headless notebook runner and the preset a notebook runs on (MIDTRAIN_PRESET, set by `npm run notebooks`).
export * as notebooks from './notebooks/run';
export { notebookPreset } from './notebooks/run';
export { workbenchVersions } from './notebooks/versions';
export { matmulSpeed, describeMatmulSpeed } from './backend/matmul-speed';
// Experiments of the paper (definitions, presets, run DAGs, runExperiment) and the report layer (stats, tables, figures).
export * as experiments from './experiments';
export * as report from './report';
// Engine: the run store (getOrRun trains / resumes / returns runs) and the training loops it drives.
export { runId, getOrRun, getRun, listRuns, readMetrics, readLineageMetrics, runStatus, loadRunWeights, storeRoot } from './runs/store';
export { validateRunConfig } from './runs/validate';
export * as train from './train';
// Slurm scale-out: submitSweep / waitForSweep / sweepStatus / formatSweepStatus for a sweep { name, runs } (docs/cluster.md).
export * as slurm from './runs/slurm';
// Native CPU kernels: capability flags the model asks, and the native backend's fused ops.
export * as caps from './backend/caps';
export * as native from './backend/native';
export { fusedCausalAttention, fusedLayerNorm, fusedCrossEntropy, fusedRotary, fusedGelu } from './backend/native-fused';
// WebGPU on Dawn: tryWebgpuBackend / releaseWebgpu / lavapipeInfo, call counters for profiling.
export * as webgpu from './backend/webgpu';
export * as webgpuStats from './backend/webgpu-stats';
