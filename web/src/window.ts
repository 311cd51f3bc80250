// The time window [from, to) every view reads, in the platform's calendar (UTC+08:00).

import { h } from "./dom";

export interface Window {
  from: string | null;
  to: string | null;
  label: string;
}

const OFFSET = "+08:00";
const DAY_MS = 86_400_000;

/** Today's date in UTC+08:00 as YYYY-MM-DD. */
export function today(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

export function addMonths(date: string, months: number): string {
  const [y, m] = date.split("-").map(Number) as [number, number];
  const index = y * 12 + (m - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-01`;
}

export function midnight(date: string): string {
  return `${date}T00:00:00${OFFSET}`;
}

const PRESETS: Record<string, { label: string; make: () => [string | null, string | null] }> = {
  all: { label: "All time", make: () => [null, null] },
  d30: { label: "Last 30 days", make: () => [addDays(today(), -29), addDays(today(), 1)] },
  d90: { label: "Last 90 days", make: () => [addDays(today(), -89), addDays(today(), 1)] },
  d365: { label: "Last 12 months", make: () => [addDays(today(), -364), addDays(today(), 1)] },
  month: {
    label: "This month",
    make: () => [today().slice(0, 8) + "01", addMonths(today(), 1)],
  },
};

let current: Window = { from: null, to: null, label: "All time" };
const listeners: (() => void)[] = [];

export function getWindow(): Window {
  return current;
}

export function onWindowChange(listener: () => void): void {
  listeners.push(listener);
}

function set(window: Window): void {
  current = window;
  for (const listener of listeners) listener();
}

/** The picker: presets, or a custom range of whole days (the end day included). */
export function windowPicker(): HTMLElement {
  const fromInput = h("input", { type: "date", "aria-label": "from", "data-testid": "from" });
  const toInput = h("input", { type: "date", "aria-label": "to", "data-testid": "to" });
  const custom = h("span", { class: "custom", hidden: true }, fromInput, "–", toInput);
  const select = h(
    "select",
    { "aria-label": "window", "data-testid": "window" },
    ...Object.entries(PRESETS).map(([key, p]) => h("option", { value: key }, p.label)),
    h("option", { value: "custom" }, "Custom…"),
  );
  const applyCustom = (): void => {
    const from = fromInput.value || null;
    const to = toInput.value || null;
    set({
      from: from && midnight(from),
      to: to && midnight(addDays(to, 1)),
      label: `${from ?? "…"} – ${to ?? "…"}`,
    });
  };
  select.addEventListener("change", () => {
    custom.hidden = select.value !== "custom";
    if (select.value === "custom") {
      applyCustom();
      return;
    }
    const preset = PRESETS[select.value];
    if (!preset) return;
    const [from, to] = preset.make();
    set({ from: from && midnight(from), to: to && midnight(to), label: preset.label });
  });
  fromInput.addEventListener("change", applyCustom);
  toInput.addEventListener("change", applyCustom);
  return h("label", { class: "window" }, "Window ", select, custom);
}
