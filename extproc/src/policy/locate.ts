// Maps a path inside the policy (["ladders", "fast", 0, "qwen-smal"]) to a line and column
// of the YAML source, so every problem can point at the text the operator wrote.
import { isMap, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import type { PathSeg } from "./problems.js";

export interface Position {
  line: number;
  col: number;
}

/**
 * Position of the node at `path`. With `key: true` the position of the last segment's key
 * (for "unknown key" style problems). A path that leaves the document resolves to the
 * deepest node that exists, which is where a missing key would have to go.
 */
export function locate(
  root: Node | null | undefined,
  lines: LineCounter,
  path: readonly PathSeg[],
  opts: { key?: boolean } = {},
): Position | undefined {
  let node: unknown = root;
  let pos = rangeStart(root);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      if (last && opts.key) return toPos(lines, rangeStart(pair.key as Node));
      node = pair.value;
      pos = rangeStart(pair.value as Node) ?? rangeStart(pair.key as Node) ?? pos;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (item === undefined) break;
      node = item;
      pos = rangeStart(item as Node) ?? pos;
    } else {
      break;
    }
  }
  return toPos(lines, pos);
}

function rangeStart(node: Node | null | undefined): number | undefined {
  return node?.range?.[0];
}

function toPos(lines: LineCounter, offset: number | undefined): Position | undefined {
  if (offset === undefined) return undefined;
  const { line, col } = lines.linePos(offset);
  return { line, col };
}
