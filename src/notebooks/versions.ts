// What a notebook is running on, as rows for a table: versions of the pieces that change results or speed.
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { projectRoot } from '../config';
import { currentBackend, formatBackendReport } from '../backend/choose';

function packageVersion(name: string): string {
  try {
    return require(path.join(projectRoot(), 'node_modules', name, 'package.json')).version as string;
  } catch {
    return 'not installed';
  }
}

/** Rows { component, version } for mt.show(): workbench, backend, tfjs, node, tslab, machine. */
export function workbenchVersions(): { component: string; version: string }[] {
  const backend = currentBackend();
  return [
    { component: 'midtrain', version: packageVersion('midtrain') },
    { component: 'backend', version: backend ? formatBackendReport(backend).replace(/^backend: /, '') : 'not initialised (await mt.initBackend())' },
    { component: '@tensorflow/tfjs', version: tf.version.tfjs },
    { component: 'node', version: process.versions.node },
    { component: 'tslab', version: packageVersion('tslab') },
    { component: 'arquero', version: packageVersion('arquero') },
    { component: 'danfojs-node', version: packageVersion('danfojs-node') },
    { component: 'plotly.js', version: packageVersion('plotly.js-dist-min') },
    { component: 'machine', version: `${os.platform()} ${os.arch()}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM` },
  ];
}
