/**
 * Text rules every service applies to names people type (account names, key names,
 * display names): no control characters, which would let a name forge lines in logs,
 * terminals and the console.
 */

/** C0 and C1 control characters (NUL included), DEL, and the Unicode line and paragraph separators. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** True when `text` holds a control character or a line/paragraph separator. */
export function hasControlCharacters(text: string): boolean {
  return CONTROL_CHARACTERS.test(text);
}
