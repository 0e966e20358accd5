// A ladder path [a, b, c] is served by one Envoy cluster whose priority levels are the pools
// in order (see render-xds.ts); this is its name, used by the renderer and the router alike.
export const PATH_CLUSTER_PREFIX = "swy.";

export function pathClusterName(path: readonly string[]): string {
  return PATH_CLUSTER_PREFIX + path.join(".");
}
