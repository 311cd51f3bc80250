// Tier payouts (one member's or the platform's): tiers 1-3 by kind, reversals netted.

import { bar } from "./chart";
import { h } from "./dom";
import { num, plural, yuan } from "./format";

export interface TierPayouts {
  lines: { tier: number; kind: string; amount: string; count: number }[];
  total: string;
  platformRetained?: string | null;
}

const KINDS = [
  { key: "GIFT_PACKAGE", label: "Gift packages (recruiting)" },
  { key: "RETAIL", label: "Retail" },
];

export function payoutTable(p: TierPayouts): HTMLElement {
  const max = Math.max(0, ...p.lines.map((l) => num(l.amount)));
  const line = (tier: number, kind: string) =>
    p.lines.find((l) => l.tier === tier && l.kind === kind);
  return h(
    "table",
    { class: "payouts" },
    h(
      "thead",
      {},
      h("tr", {}, h("th", {}, "Tier"), ...KINDS.map((k) => h("th", { class: "num" }, k.label))),
    ),
    h(
      "tbody",
      {},
      ...[1, 2, 3].map((tier) =>
        h(
          "tr",
          { "data-tier": tier },
          h("td", {}, `Tier ${tier}`),
          ...KINDS.map((k) => {
            const l = line(tier, k.key);
            return h(
              "td",
              { class: "num value", "data-kind": k.key },
              h("span", { class: "value-text" }, yuan(l?.amount ?? "0.00")),
              h("span", { class: "muted small" }, ` ${plural(l?.count ?? 0, "payout")}`),
              bar(num(l?.amount), max),
            );
          }),
        ),
      ),
    ),
    h(
      "tfoot",
      {},
      h("tr", {}, h("th", {}, "Total"), h("th", { class: "num", colspan: 2 }, yuan(p.total))),
      p.platformRetained !== undefined && p.platformRetained !== null
        ? h(
            "tr",
            {},
            h("th", {}, "Platform retained"),
            h("th", { class: "num", colspan: 2 }, yuan(p.platformRetained)),
          )
        : null,
    ),
  );
}
