// Body for one pool: served model name + the pool's reasoning dialect.
import type { ChatBody } from "../facts/body.js";
import type { BodyFacts } from "../facts/types.js";
import type { PoolDoc } from "../policy/schema.js";
import type { BodyPatch } from "./adapter.js";
import { ADAPTERS } from "./dialects.js";

export function adaptForPool(body: ChatBody, facts: BodyFacts, pool: PoolDoc): BodyPatch {
  const patch: BodyPatch = { set: { model: pool.served_model }, remove: [] };
  const adapter = ADAPTERS[pool.reasoning.adapter];
  adapter.adapt(body, facts, pool, patch);
  const forward = pool.reasoning.forward_reasoning_effort ?? adapter.forwardsByDefault;
  if (!forward) {
    patch.remove.push("reasoning_effort");
    delete patch.set.reasoning_effort;
  }
  return patch;
}

/** The patched body as an object (for explain and tests; the hot path splices text instead). */
export function applyPatch(body: ChatBody, patch: BodyPatch): ChatBody {
  const out: ChatBody = { ...body };
  for (const k of patch.remove) delete out[k];
  Object.assign(out, patch.set);
  return out;
}
