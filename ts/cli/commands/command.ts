/** What every `ferrolog` command file exports. */
export interface Command {
  name: string;
  /** The text of `ferrolog <name> --help`; it starts with `usage:` and has examples. */
  help: string;
  /** Runs with the command line minus the command's name (global options included). */
  run(argv: string[]): Promise<void>;
}
