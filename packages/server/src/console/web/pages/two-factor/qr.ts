/**
 * The QR code of an `otpauth://` URI as an inline SVG (built as DOM nodes: no markup
 * parsed, nothing fetched, allowed by the console's Content-Security-Policy). The
 * encoding is `uqr` (MIT, no dependencies), bundled into the console.
 */
import { encode } from "uqr";

const SVG = "http://www.w3.org/2000/svg";
/** Light modules around the code, as the QR standard asks for (4 modules). */
const QUIET_ZONE = 4;

/** The SVG path of a QR code's dark modules (unit squares), offset by the quiet zone; tests recompute it. */
export function qrPath(text: string): { d: string; size: number } {
  const { data, size } = encode(text, { ecc: "M", border: 0 });
  let d = "";
  for (const [y, row] of data.entries()) {
    for (const [x, dark] of row.entries()) if (dark) d += `M${x + QUIET_ZONE} ${y + QUIET_ZONE}h1v1h-1z`;
  }
  return { d, size: size + 2 * QUIET_ZONE };
}

/** An SVG element showing `text` as a QR code, `px` wide. */
export function qrCode(text: string, px = 200): SVGSVGElement {
  const { d, size: n } = qrPath(text);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${n} ${n}`);
  svg.setAttribute("width", String(px));
  svg.setAttribute("height", String(px));
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code for your authenticator app");
  const bg = document.createElementNS(SVG, "rect");
  bg.setAttribute("width", String(n));
  bg.setAttribute("height", String(n));
  bg.setAttribute("fill", "#fff");
  // One path of unit squares: small and fast to draw.
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000");
  svg.append(bg, path);
  return svg;
}
