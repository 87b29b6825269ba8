import * as tf from '@tensorflow/tfjs';

/**
 * Gradients of a scalar w.r.t. variables, like tf.variableGrads, but with the memory of the backward pass freed as
 * it goes. tfjs keeps every intermediate gradient and every tensor saved by the forward pass until the whole
 * backward pass ends (engine.gradients runs it in one tidy), so a 30-layer model holds its activations plus all
 * their gradients at once, which overflows wasm's 4 GB heap on a single 256-token sequence. Here each node's
 * output gradients and saved tensors are disposed as soon as the node has been differentiated (the tape is in
 * topological order, so nothing later needs them), and saved tensors of nodes that do not lead from a variable to
 * the loss are dropped before the backward pass starts.
 *
 * Uses the engine's tape the same way engine.gradients does (tfjs-core 4.x internals: startTape/endTape,
 * state.activeTape, node.gradient/saved); the gradient check in tests/train guards it.
 */
interface TapeNode {
  id: number;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

export function leanVariableGrads(f: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: tf.Tensor[] } {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state.gradientDepth !== 0) throw new Error('leanVariableGrads cannot be nested inside another gradient computation');
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  const tape = engine.state.activeTape ?? [];
  engine.state.activeTape = null;
  try {
    if (!(y instanceof tf.Tensor) || y.size !== 1) throw new Error('leanVariableGrads: f must return a scalar');
    const filtered = filterTape(tape, vars, y);
    const kept = new Set(filtered.map((n) => n.id));
    for (const node of tape) if (!kept.has(node.id)) disposeSaved(node);
    const wanted = new Set(vars.map((v) => v.id));
    const grads = tf.tidy(() => {
      // Gradient functions may hand back the same tensor for several inputs (an add passes dy to both sides), so
      // a tensor is disposed only when no entry of the map holds it any more.
      const holders = new Map<number, number>();
      const hold = (t: tf.Tensor) => holders.set(t.id, (holders.get(t.id) ?? 0) + 1);
      const release = (t: tf.Tensor) => {
        const n = (holders.get(t.id) ?? 1) - 1;
        if (n > 0) holders.set(t.id, n);
        else {
          holders.delete(t.id);
          t.dispose();
        }
      };
      const acc = new Map<number, tf.Tensor>();
      const seed = tf.onesLike(y);
      acc.set(y.id, seed);
      hold(seed);
      for (let i = filtered.length - 1; i >= 0; i--) {
        const node = filtered[i] as TapeNode;
        if (!node.gradient) throw new Error(`cannot compute gradient: no gradient function for a node of the forward pass`);
        const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
        const names = Object.keys(node.inputs);
        // One tidy around the whole node: a customGrad computes its input gradients eagerly inside
        // node.gradient(), and its temporaries (recomputed activations) must die here, not at the very end.
        const dxs = tf.tidy(() => {
          const inputGrads = (node.gradient as NonNullable<TapeNode['gradient']>)(dys);
          return names.map((name) => {
            const gradFn = inputGrads[name];
            if (!gradFn) throw new Error(`cannot backprop through input ${name}`);
            return gradFn();
          });
        });
        for (const [k, name] of names.entries()) {
          const x = node.inputs[name] as tf.Tensor;
          let dx = dxs[k] as tf.Tensor;
          // A gradient that is one of the node's saved tensors would die with them below.
          if (node.saved?.includes(dx)) dx = dx.clone();
          const prev = acc.get(x.id);
          if (prev) {
            const sum = tf.add(prev, dx);
            release(prev);
            if (!holders.has(dx.id)) dx.dispose();
            acc.set(x.id, sum);
            hold(sum);
          } else {
            acc.set(x.id, dx);
            hold(dx);
          }
        }
        for (const o of node.outputs) {
          const g = acc.get(o.id);
          if (!g || wanted.has(o.id)) continue;
          acc.delete(o.id);
          release(g);
        }
        disposeSaved(node);
      }
      return vars.map((v) => acc.get(v.id) ?? tf.zerosLike(v));
    });
    return { value: y as tf.Scalar, grads };
  } finally {
    for (const node of tape) disposeSaved(node);
  }
}

function disposeSaved(node: TapeNode): void {
  if (node.saved) for (const t of node.saved) t.dispose();
}

/** The nodes on a path from a variable to y, inputs pruned to those that depend on a variable (as tfjs does). */
function filterTape(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodesFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i] as TapeNode;
    if (node.outputs.some((o) => toY.has(o.id))) {
      nodesToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  return tape
    .filter((n) => nodesFromX.has(n.id) && nodesToY.has(n.id))
    .map((n) => ({ ...n, inputs: Object.fromEntries(Object.entries(n.inputs).filter(([, t]) => fromX.has(t.id))) }));
}
