// Display only: money stays a decimal string from the API and is never computed with here.

export function yuan(value: string | null | undefined): string {
  if (value === null || value === undefined) return "–";
  const negative = value.startsWith("-");
  const [whole = "0", cents = "00"] = value.replace(/^-/, "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}¥${grouped}.${cents.padEnd(2, "0")}`;
}

export function count(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US");
}

export function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? "" : "s"}`;
}

/** A share given as a decimal fraction string ("0.125000") as a percentage. */
export function share(value: string | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return `${(Number(value) * 100).toFixed(2)}%`;
}

/** Basis points (integer) as a percentage. */
export function bp(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return `${(value / 100).toFixed(2)}%`;
}

export function day(value: string | null | undefined): string {
  return value ? value.slice(0, 10) : "–";
}

/** For charts and bar widths only. */
export function num(value: string | number | null | undefined): number {
  const n = Number(value ?? 0);
  return Number.isFinite(n) ? n : 0;
}
