// One compute dispatch of this project's own WGSL (fused kernels, AdamW, clipping), recorded into tfjs's
// webgpu command stream exactly as tfjs records its own kernels: in tfjs's open compute pass, so it is
// ordered with the ops around it; counted toward tfjs's submit batch; and, while tf.time() / tf.profile()
// is measuring, in a pass of its own with timestamp writes, so its GPU time is reported under `name`
// next to tfjs's programs (tfjs-backend-webgpu's recordAndSubmit does the same for its kernels).
import * as tf from '@tensorflow/tfjs';

interface Pass { setPipeline(p: unknown): void; setBindGroup(i: number, g: unknown): void; dispatchWorkgroups(x: number, y?: number, z?: number): void }

/** The parts of tfjs's WebGPUBackend a dispatch touches. */
interface TfjsWebgpuBackend {
  device: { createQuerySet(d: object): unknown };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: { beginComputePass(d?: object): Pass };
  computePassEncoder: Pass | null;
  dispatchCountInPass: number;
  /** Set while tf.time() runs: each timed program pushes {name, query}. */
  activeTimers: { name: string; query: Promise<number> }[] | null;
  supportTimestampQuery: boolean;
  querySet: unknown;
  querySetCount: number;
  getQueryTime(): Promise<number>;
}

export function recordDispatch(name: string, pipeline: unknown, bindGroup: unknown, groups: [number, number]): void {
  const b = tf.backend() as unknown as TfjsWebgpuBackend;
  const timed = b.activeTimers != null;
  b.ensureCommandEncoderReady();
  if (timed && b.supportTimestampQuery) {
    b.endComputePassEncoder();
    if (b.querySet == null) b.querySet = b.device.createQuerySet({ type: 'timestamp', count: b.querySetCount });
    b.computePassEncoder = b.commandEncoder.beginComputePass({
      timestampWrites: { querySet: b.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    });
  } else if (!b.computePassEncoder) {
    b.computePassEncoder = b.commandEncoder.beginComputePass();
  }
  b.computePassEncoder!.setPipeline(pipeline);
  b.computePassEncoder!.setBindGroup(0, bindGroup);
  b.computePassEncoder!.dispatchWorkgroups(groups[0], groups[1]);
  b.dispatchCountInPass++;
  if (timed || b.dispatchCountInPass >= (tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number)) {
    b.endComputePassEncoder();
    if (timed) b.activeTimers!.push({ name, query: b.getQueryTime() });
    else b.submitQueue();
  }
}
