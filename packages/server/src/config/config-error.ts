/**
 * The one error configuration reading throws: it names the variable, so `tessera serve`
 * can print one line and exit with code 2.
 */

/** A configuration error: names the variable and what is wrong with it. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}
