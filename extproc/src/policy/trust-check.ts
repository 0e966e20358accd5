// Checks of the trust section: the secret must be in the environment, and a policy whose
// headers change the class should say who may send them. Pure: `env` comes in.
import type { Problem } from "./problems.js";
import type { PolicyDoc } from "./schema.js";

export function trustProblems(doc: PolicyDoc, env: NodeJS.ProcessEnv): Problem[] {
  const out: Problem[] = [];
  const s = doc.trust?.secret;
  if (s !== undefined && (env[s.env] ?? "") === "") {
    const message = `environment variable ${s.env} is not set or empty (the secret itself never goes in the policy file)`;
    out.push({ severity: "error", path: ["trust", "secret", "env"], message });
  }
  const m = doc.modifiers;
  const shifts = Object.keys(m.tiers).length > 0 || m.quota.length > 0 || m.trial !== 0;
  if (doc.trust === undefined && shifts) {
    out.push({
      severity: "warning",
      path: ["modifiers"],
      message:
        "routing headers count from any caller that reaches Envoy (anyone can send a paid tier or leave out the quota header): add trust: with sources and/or a secret",
    });
  }
  return out;
}
