// The report layer: statistics, tables, figures, computed prose, the paper's reference numbers, notebook
// artifacts and the summary — plus the foundation's display and export helpers, so a notebook finds every
// rendering call under mt.report.*
export * from './stats';
export * from './tables';
export * from './figures';
export * from './findings';
export * from './data-checks';
export * from './agreement';
export * from './paper';
export * from './artifacts';
export * from './notebook';
export * from './summary';
export * from './reproduce';
export * from './display';
export * from './export';
