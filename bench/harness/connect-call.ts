/** Single Connect calls outside the load: setup, warm checks and revocation probes. */

/** A Connect unary call with JSON (setup and revocation probes, not load). */
export async function connectCall(
  baseUrl: string,
  procedure: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, any> }> {
  const r = await fetch(`${baseUrl}/${procedure.replace(/^\//, "")}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  let json: Record<string, any> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, any>) : {};
  } catch {
    json = { raw: text };
  }
  return { status: r.status, json };
}
