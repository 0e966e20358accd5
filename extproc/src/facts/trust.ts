// Whether this caller's routing headers count (pure: the source address comes in). A caller is
// trusted when its direct connection comes from one of trust.sources, or when it sends the
// trust.secret header with the right value (compared as sha256 digests in constant time). Without
// a trust section every caller is trusted.
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { Trust } from "../policy/compile.js";
import { type Reason, reason } from "../vocab/reasons.js";
import type { HeaderBag } from "./types.js";

/** "1.2.3.4:5678", "[::1]:5678" or a bare address → the address; undefined if none. */
export function sourceIp(source: string | null | undefined): string | undefined {
  if (!source) return undefined;
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(source);
  if (bracket) return bracket[1];
  const colons = source.split(":").length - 1;
  const ip = colons === 1 ? source.slice(0, source.indexOf(":")) : source;
  return isIP(ip) ? ip : undefined;
}

/**
 * `source` undefined means "no caller to check" (explain without --source, unit tests): trusted.
 * The router always passes the connection's address, or null when Envoy sent none.
 */
export function isTrusted(
  trust: Trust | undefined,
  source: string | null | undefined,
  bag: HeaderBag,
  notes: Reason[],
): boolean {
  if (trust === undefined || source === undefined) return true;
  const ip = sourceIp(source);
  if (ip !== undefined && trust.sources?.check(ip, isIP(ip) === 6 ? "ipv6" : "ipv4")) return true;
  if (trust.secret !== undefined) {
    const sent = bag[trust.secret.header];
    if (sent !== undefined) {
      const digest = createHash("sha256").update(sent).digest();
      if (timingSafeEqual(digest, trust.secret.digest)) return true;
    }
  }
  notes.push(
    reason(
      "facts",
      "trust:untrusted",
      `caller ${ip ?? "(unknown address)"} is not trusted: its routing headers are ignored`,
    ),
  );
  return false;
}
