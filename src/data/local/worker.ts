// Worker thread entry: encodes the files the main thread hands it, one at a time (encode-file.ts), and
// reports progress, the finished part's summary, or the one-line error that stops the build.
import { parentPort } from 'worker_threads';
import { encodeFile, type EncodeJob } from './encode-file';

if (!parentPort) throw new Error('data: worker.ts runs as a worker thread');
const port = parentPort;

port.on('message', (msg: { job: EncodeJob; id: number }) => {
  let bytes = 0, tokens = 0, last = Date.now();
  encodeFile(msg.job, (b, t) => {
    bytes += b; tokens += t;
    const now = Date.now();
    if (now - last > 250) { port.postMessage({ type: 'progress', bytes, tokens }); bytes = 0; tokens = 0; last = now; }
  }).then(
    (summary) => { port.postMessage({ type: 'progress', bytes, tokens }); port.postMessage({ type: 'done', id: msg.id, summary }); },
    (e: Error) => port.postMessage({ type: 'error', id: msg.id, message: e.message.split('\n')[0] }),
  );
});
