export async function runDataPlaneCommand(cmd: string, _args: string[]): Promise<number> {
  console.error(`switchyard ${cmd}: not implemented yet`);
  return 2;
}
