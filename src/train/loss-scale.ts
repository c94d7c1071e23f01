// Dynamic loss scaling for mixed precision, with torch.cuda.amp.GradScaler's rule: the loss is multiplied by
// a scale S before the backward pass, so gradients too small for f16 matmul tiles (below ~6e-8) survive; the
// optimizer divides the gradients by S, skips a step whose gradients overflowed (inf or NaN) and halves S;
// after `growthInterval` clean steps in a row S doubles.
//
// The state is a device tensor [S, clean steps], so a step needs no readback: on webgpu the kernel that
// computes the gradient norm also unscales, decides the skip and updates S (webgpu-adamw.ts); elsewhere
// the optimizer does the same on the host (AdamW.clipAndStep). One difference from torch: a skipped step
// still advances AdamW's step count (its bias correction), since the host does not know it was skipped.
// The scale is not checkpointed: a resumed run starts again from `init`.
import * as tf from '@tensorflow/tfjs';

export interface LossScaleOptions {
  /** First scale (torch: 2^16). */
  init: number;
  /** Clean steps in a row before the scale grows (torch: 2000). */
  growthInterval: number;
  growth: number;
  backoff: number;
  /** Bounds: the scale never drops below `min` nor grows past `max`. */
  min: number;
  max: number;
}

export const LOSS_SCALE_DEFAULTS: LossScaleOptions = { init: 2 ** 16, growthInterval: 2000, growth: 2, backoff: 0.5, min: 1, max: 2 ** 24 };

export class LossScaler {
  readonly o: LossScaleOptions;
  /** [scale, clean steps since the last change], updated in place by the optimizer. */
  readonly state: tf.Variable;

  constructor(o: Partial<LossScaleOptions> = {}) {
    this.o = { ...LOSS_SCALE_DEFAULTS, ...o };
    if (!(this.o.init >= this.o.min && this.o.init <= this.o.max) || !(this.o.growthInterval >= 1)) {
      throw new Error(`loss scale: init ${this.o.init} must lie in [${this.o.min}, ${this.o.max}] and growthInterval ${this.o.growthInterval} be ≥ 1`);
    }
    this.state = tf.variable(tf.tensor1d([this.o.init, 0]), false);
  }

  /** The scale as a device scalar (read where it is recorded: later in-place updates do not change it). */
  scale(): tf.Scalar {
    return tf.tidy(() => tf.reshape(tf.slice(this.state, 0, 1), []) as tf.Scalar);
  }

  /** The host-side update (the op-by-op optimizer path): back off after an overflow, grow after enough clean steps. */
  update(finite: boolean): void {
    const [s, clean] = this.state.dataSync();
    const next = !finite
      ? [Math.max(s * this.o.backoff, this.o.min), 0]
      : clean + 1 >= this.o.growthInterval ? [Math.min(s * this.o.growth, this.o.max), 0] : [s, clean + 1];
    tf.tidy(() => this.state.assign(tf.tensor1d(next)));
  }

  /** [scale, clean steps] now (reads the device: for tests and logs, not inside a step). */
  read(): [number, number] {
    const [s, clean] = this.state.dataSync();
    return [s, clean];
  }

  dispose(): void {
    this.state.dispose();
  }
}
