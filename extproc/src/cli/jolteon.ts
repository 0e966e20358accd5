// jolteon config -> switchyard policy (pure). jolteon keeps each class's ladder under the class
// (`classes.<class>.ladder`) and pools with their reasoning blocks; features, modifiers and
// backends live in its prose and deployment. What the config carries is moved over as it is;
// jolteon's documented behaviour (paid +1, trial -1, quota bands, translate capped at fast, the
// X-Discourse-AI-* headers) is written out; what only a deployment knows (backend addresses,
// served model names) becomes a REPLACE_ME placeholder that `switchyard check` refuses.
import { Document, isMap, isSeq, parse } from "yaml";
import { PLACEHOLDER } from "../policy/placeholders.js";

export interface Converted {
  yaml: string;
  /** Dotted paths of the placeholders written, for the summary. */
  placeholders: string[];
  /** What the converter decided on its own, one line each. */
  notes: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** jolteon's headers, as its write-up names them (the bundled example policy uses the same). */
const JOLTEON_HEADERS = {
  feature: "X-Discourse-AI-Feature",
  tier: "X-Discourse-AI-Tier",
  trial: "X-Discourse-AI-Trial",
  quota_used: "X-Discourse-AI-Quota-Used",
  vision: "X-Discourse-AI-Vision",
  site: "X-Discourse-AI-Site",
};

/** A backend as jolteon may list it: "host:port", "http://host:port", or {name, address|url|host+port}. */
function convertBackend(b: unknown): Obj | undefined {
  const addr = (s: string) => s.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  if (typeof b === "string") return { address: addr(b) };
  if (!isObj(b)) return undefined;
  const raw =
    typeof b.address === "string"
      ? b.address
      : typeof b.url === "string"
        ? b.url
        : typeof b.host === "string" && b.port !== undefined
          ? `${b.host}:${String(b.port)}`
          : undefined;
  if (raw === undefined) return undefined;
  const out: Obj = { address: addr(raw) };
  if (typeof b.name === "string") out.name = b.name;
  if (typeof b.weight === "number") out.weight = b.weight;
  return out;
}

function convertPool(name: string, src: Obj, placeholders: string[]): Obj {
  const { backends, served_model, model, reasoning, capabilities, price, ...rest } = src;
  const out: Obj = {};
  const served =
    typeof served_model === "string" ? served_model : typeof model === "string" ? model : undefined;
  if (served === undefined) placeholders.push(`pools.${name}.served_model`);
  out.served_model = served ?? `${PLACEHOLDER}/served-model-of-${name}`;
  const list = Array.isArray(backends) ? backends.map(convertBackend).filter((b) => b !== undefined) : [];
  if (list.length === 0) placeholders.push(`pools.${name}.backends`);
  out.backends = list.length > 0 ? list : [{ address: `${PLACEHOLDER}-${name}:8000` }];
  if (capabilities !== undefined) out.capabilities = capabilities;
  if (reasoning !== undefined) out.reasoning = reasoning;
  if (price !== undefined) out.price = price;
  // Anything else is carried over, so `check` names it (unknown key) instead of it vanishing.
  return { ...out, ...rest };
}

export function convertJolteon(text: string): Converted {
  const src = parse(text) as unknown;
  if (!isObj(src)) throw new Error("a jolteon config is a YAML mapping with classes and pools");
  const placeholders: string[] = [];
  const notes: string[] = [];
  const classesSrc = isObj(src.classes) ? src.classes : {};
  const classes = Object.keys(classesSrc);
  if (classes.length === 0) throw new Error("no classes: jolteon's config lists classes with their ladders");
  const ladders: Obj = {};
  const named = new Set<string>();
  for (const c of classes) {
    const cls = classesSrc[c];
    const ladder = isObj(cls) && Array.isArray(cls.ladder) ? cls.ladder : [];
    if (ladder.length === 0) notes.push(`class ${c} has no ladder: check will say so`);
    ladders[c] = ladder;
    for (const step of ladder) if (isObj(step)) for (const p of Object.keys(step)) named.add(p);
  }
  const poolsSrc = isObj(src.pools) ? src.pools : {};
  const pools: Obj = {};
  for (const name of new Set([...Object.keys(poolsSrc), ...named])) {
    const p = poolsSrc[name];
    if (p === undefined)
      notes.push(`pool ${name} is on a ladder but not under pools: added with placeholders`);
    pools[name] = convertPool(name, isObj(p) ? p : {}, placeholders);
  }
  const defaultClass = classes.includes("balanced") ? "balanced" : (classes[0] as string);
  notes.push(`default_class: ${defaultClass} (jolteon's config has none; change it if yours differs)`);
  const features: Obj = {};
  if (classes.includes("fast")) features.translate = { class: "fast", cap: "fast" };
  if (classes.includes("frontier")) features.ai_bot = { class: "frontier" };
  const policy = {
    version: 1,
    headers: JOLTEON_HEADERS,
    classes,
    default_class: defaultClass,
    features: isObj(src.features) ? src.features : features,
    modifiers: isObj(src.modifiers)
      ? src.modifiers
      : {
          tiers: { paid: 1, standard: 1, free: 0 },
          trial: -1,
          quota: [
            { above: 80, shift: -1 },
            { above: 150, shift: -2 },
          ],
        },
    ladders,
    pools,
  };
  const doc = new Document(policy);
  doc.commentBefore = [
    " Converted from a jolteon config by `switchyard import`.",
    " Filled in from jolteon's documented behaviour: headers (X-Discourse-AI-*), features (translate",
    " capped at fast, ai_bot at frontier), modifiers (paid/standard +1, trial -1, quota >80 % -1, >150 % -2).",
    ` ${PLACEHOLDER} marks what only your deployment knows (backends, served model names):`,
    " `switchyard check` refuses the policy until each one is filled in. Capabilities (vision, tools,",
    " context_window) are not in jolteon's config: set them per pool. docs/from-jolteon.md maps the rest.",
  ].join("\n");
  const ladderNode = doc.get("ladders", true);
  if (isMap(ladderNode)) {
    ladderNode.commentBefore = " jolteon's classes.<class>.ladder, one list per class";
    // One step per line, as jolteon writes them: - { qwen-small: 70, deepseek-flash: 30 }
    for (const pair of ladderNode.items)
      if (isSeq(pair.value)) for (const step of pair.value.items) if (isMap(step)) step.flow = true;
  }
  return { yaml: doc.toString({ lineWidth: 0, flowCollectionPadding: true }), placeholders, notes };
}
