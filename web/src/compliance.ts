// Compliance figures, for the platform and for one member: where income comes from, and
// whether every payout path stays within three tiers.

import { h } from "./dom";
import { bp, plural, yuan } from "./format";
import { stat } from "./panel";

export const INCOME = `income {
  total giftPackage retail teamPay selfPurchase giftPackageBp teamPayBp selfPurchaseBp
}`;
export const PATHS = `paths {
  ok payoutsChecked maxTier violationCount
  violations { orderId memberId tier expectedMemberId reason }
}`;

export interface Income {
  total: string;
  giftPackage: string;
  retail: string;
  teamPay: string;
  selfPurchase: string;
  giftPackageBp: number;
  teamPayBp: number;
  selfPurchaseBp: number;
}

export interface Paths {
  ok: boolean;
  payoutsChecked: number;
  maxTier: number;
  violationCount: number;
  violations: {
    orderId: string;
    memberId: string;
    tier: number;
    expectedMemberId: string | null;
    reason: string;
  }[];
}

export function incomeStats(income: Income): HTMLElement {
  return h(
    "div",
    { class: "stats" },
    stat("Income paid", yuan(income.total)),
    stat("From gift packages (recruiting)", `${bp(income.giftPackageBp)} · ${yuan(income.giftPackage)}`),
    stat("Retail", yuan(income.retail)),
    stat("Team pay (tiers 2-3)", `${bp(income.teamPayBp)} · ${yuan(income.teamPay)}`),
    stat("Self-purchase share of retail", bp(income.selfPurchaseBp)),
  );
}

export function pathCheck(paths: Paths): HTMLElement {
  return h(
    "div",
    { "data-testid": "path-check" },
    h(
      "p",
      { class: paths.ok ? "ok" : "error" },
      paths.ok ? "✓ " : "✗ ",
      `${plural(paths.payoutsChecked, "payout")} checked; the longest payout path is ` +
        `${plural(paths.maxTier, "tier")} (the law allows 3); ` +
        `${plural(paths.violationCount, "payout")} off the rules.`,
    ),
    paths.violations.length
      ? h(
          "table",
          {},
          h(
            "tr",
            {},
            h("th", {}, "Order"),
            h("th", {}, "Paid to"),
            h("th", {}, "Tier"),
            h("th", {}, "Rules say"),
            h("th", {}, "Why"),
          ),
          ...paths.violations.map((v) =>
            h(
              "tr",
              {},
              h("td", {}, v.orderId),
              h("td", {}, v.memberId),
              h("td", {}, v.tier),
              h("td", {}, v.expectedMemberId ?? "nobody"),
              h("td", {}, v.reason),
            ),
          ),
        )
      : null,
  );
}
