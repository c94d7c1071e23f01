// Public entry of the workbench library: `import * as mt from 'midtrain'` in notebooks, scripts and tests.
// Each module is exported under a namespace so names stay unambiguous in a notebook.
export * from './config';
export type * from './data/types';
export type * from './runs/types';
