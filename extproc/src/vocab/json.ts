/** A JSON value, as log lines, dynamic metadata and policies hold them. */
export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
