/** The expiry picker of the API-key dialogs: presets up to a year, or a date. */
import { h } from "../../dom.js";

const DAY_MS = 86_400_000;
/** The longest lifetime the server accepts for an API key. */
const MAX_KEY_DAYS = 365;

/** An expiry picker: presets up to a year, or a date; `value()` throws a message to show when the choice is invalid. */
export function expiryPicker(): { el: HTMLElement; value(): Date } {
  const presets: Array<[string, number]> = [
    ["7 days", 7],
    ["30 days", 30],
    ["90 days", 90],
    ["180 days", 180],
    ["1 year (365 days)", 365],
  ];
  const select = h(
    "select",
    { id: "key-expiry", name: "expiry" },
    ...presets.map(([label, d]) => h("option", { value: String(d) }, label)),
    h("option", { value: "custom" }, "Custom date…"),
  );
  select.value = "30";
  const day = (d: number) => new Date(Date.now() + d * DAY_MS).toISOString().slice(0, 10);
  const date = h("input", {
    type: "date",
    id: "key-expiry-date",
    min: day(1),
    max: day(MAX_KEY_DAYS - 1),
    value: day(30),
    hidden: true,
    "aria-label": "expiry date",
  });
  select.addEventListener("change", () => (date.hidden = select.value !== "custom"));
  return {
    el: h("div", { class: "stack" }, select, date),
    value() {
      if (select.value !== "custom") return new Date(Date.now() + Number(select.value) * DAY_MS);
      const at = new Date(`${date.value}T23:59:59`);
      if (Number.isNaN(at.getTime())) throw new Error("Pick an expiry date.");
      if (at.getTime() <= Date.now()) throw new Error("The expiry must be in the future.");
      if (at.getTime() > Date.now() + MAX_KEY_DAYS * DAY_MS) throw new Error("API keys expire within 365 days.");
      return at;
    },
  };
}
