/**
 * The arguments of one command line: positional words and `key=value` options. Every option
 * must be consumed, so a misspelt one fails the script instead of being ignored.
 */
export class Args {
  readonly command: string;
  private readonly positional: string[] = [];
  private readonly options = new Map<string, string>();
  private readonly consumed = new Set<string>();

  constructor(line: string) {
    const words = line.split(/\s+/).filter((w) => w !== "");
    if (words.length === 0) throw new Error("empty command");
    this.command = words[0];
    for (const word of words.slice(1)) {
      const eq = word.indexOf("=");
      if (eq > 0) this.options.set(word.slice(0, eq), word.slice(eq + 1));
      else this.positional.push(word);
    }
  }

  get positionals(): readonly string[] {
    return this.positional;
  }

  at(index: number, what: string): string {
    const value = this.positional[index];
    if (value === undefined) throw new Error(`${this.command}: missing ${what}`);
    return value;
  }

  intAt(index: number, what: string): number {
    return parseInteger(this.at(index, what), what);
  }

  option(key: string): string | undefined {
    this.consumed.add(key);
    return this.options.get(key);
  }

  boolOption(key: string, fallback: boolean): boolean {
    const value = this.option(key);
    if (value === undefined) return fallback;
    if (value !== "true" && value !== "false") throw new Error(`${key} must be true or false, got ${value}`);
    return value === "true";
  }

  intOption(key: string): number | undefined {
    const value = this.option(key);
    return value === undefined ? undefined : parseInteger(value, key);
  }

  /** `voters=r1,r2,r3`; an empty value means an empty list. */
  listOption(key: string): string[] | undefined {
    const value = this.option(key);
    if (value === undefined) return undefined;
    return value.split(",").filter((v) => v !== "");
  }

  /** Throws if an option was given that the command does not know. */
  done(): void {
    for (const key of this.options.keys()) {
      if (!this.consumed.has(key)) throw new Error(`${this.command}: unknown option ${key}=`);
    }
  }
}

function parseInteger(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`${what} must be an integer, got ${text}`);
  return value;
}
