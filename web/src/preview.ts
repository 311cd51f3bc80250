// Settlement preview: what the next run would pay, or a candidate plan (TOML) beside the default
// plan's committed ledger, per tier and kind, with the differences drawn as bars. Writes nothing.

import { ApiError, gql } from "./api";
import { type Child, h, replace } from "./dom";
import { bp, count, num, yuan } from "./format";

interface Total {
  tier: number;
  kind: string;
  paid: string;
  payouts: number;
  reversed: string;
  reversals: number;
}

interface Difference {
  tier: number | null;
  kind: string | null;
  memberId: string | null;
  preview: string;
  committed: string;
  difference: string;
}

interface Compliance {
  total: string;
  recruitingShareBp: number;
  teamPayShareBp: number;
  flaggedShareBp: number;
}

interface Preview {
  cutoff: string;
  planId: string | null;
  orders: number;
  ordersReversed: number;
  pool: string;
  paid: string;
  reversed: string;
  platformRetained: string;
  totals: Total[];
  compliance: Compliance;
  comparison: {
    tiers: Difference[];
    kinds: Difference[];
    members: Difference[];
    membersChanged: number;
    retained: Difference;
    committedCompliance: Compliance;
  } | null;
}

const DIFF = "tier kind memberId preview committed difference";
const MIX = "total recruitingShareBp teamPayShareBp flaggedShareBp";
const PREVIEW = `query Preview($until: DateTime!, $plan: String) {
  settlementPreview(until: $until, plan: $plan, top: 10) {
    cutoff planId orders ordersReversed pool paid reversed platformRetained
    totals { tier kind paid payouts reversed reversals }
    compliance { ${MIX} }
    comparison {
      tiers { ${DIFF} } kinds { ${DIFF} } members { ${DIFF} } membersChanged
      retained { ${DIFF} } committedCompliance { ${MIX} }
    }
  }
}`;

const KIND_LABEL: Record<string, string> = { GIFT_PACKAGE: "Gift packages", RETAIL: "Retail" };

/** Now in UTC+08:00, as a datetime-local input shows it. */
function nowLocal(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 16);
}

export function previewView(onError: (e: unknown) => void): HTMLElement {
  const until = h("input", {
    type: "datetime-local",
    name: "until",
    value: nowLocal(),
    required: true,
    "aria-label": "cutoff",
    "data-testid": "preview-until",
  });
  const plan = h("textarea", {
    name: "plan",
    rows: 12,
    cols: 70,
    spellcheck: "false",
    placeholder: 'id = "candidate"\neffective_from = 2000-01-01T00:00:00+08:00\n…',
    "aria-label": "candidate plan",
    "data-testid": "preview-plan",
  });
  const result = h("div", { "data-testid": "preview-result" });
  const submit = h("button", { type: "submit" }, "Preview");
  const form = h(
    "form",
    { class: "preview-form card", "data-testid": "preview-form" },
    h("label", {}, "Cutoff (UTC+08:00) ", until),
    h(
      "p",
      { class: "muted small" },
      "Candidate plan (TOML, as ",
      h("code", {}, "downline plan load"),
      " takes it). Leave it empty to preview the next run under the stored plans.",
    ),
    plan,
    h("div", {}, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void run();
  });

  async function run(): Promise<void> {
    submit.disabled = true;
    result.dataset.state = "loading";
    replace(result, h("p", { class: "muted" }, "Computing…"));
    const text = plan.value.trim();
    try {
      const { settlementPreview: p } = await gql<{ settlementPreview: Preview }>(PREVIEW, {
        until: `${until.value.length === 16 ? `${until.value}:00` : until.value}+08:00`,
        plan: text ? plan.value : null,
      });
      replace(result, p.comparison ? comparison(p) : nextRun(p));
      result.dataset.state = "ready";
    } catch (e) {
      result.dataset.state = "error";
      if (e instanceof ApiError && e.code === "FORBIDDEN") {
        replace(result, h("p", { class: "notice" }, "Previews are for analysts and admins."));
        result.dataset.state = "forbidden";
      } else if (e instanceof ApiError && e.code === "BAD_USER_INPUT") {
        replace(result, h("p", { class: "error", "data-testid": "preview-error" }, e.message));
      } else {
        replace(result, h("p", { class: "error", "data-testid": "preview-error" }, (e as Error).message));
        onError(e);
      }
    } finally {
      submit.disabled = false;
    }
  }

  return h(
    "section",
    { class: "view", "data-view": "preview", "data-testid": "preview-view" },
    h("h2", {}, "Settlement preview"),
    form,
    result,
  );
}

function summary(p: Preview): HTMLElement {
  return h(
    "p",
    { "data-testid": "preview-summary" },
    `${count(p.orders)} orders to ${p.cutoff.slice(0, 16).replace("T", " ")}: pool ${yuan(p.pool)}, `,
    `paid ${yuan(p.paid)}, reversed ${yuan(p.reversed)}, platform retained ${yuan(p.platformRetained)}. `,
    `Recruiting share ${bp(p.compliance.recruitingShareBp)}, team pay ${bp(p.compliance.teamPayShareBp)}.`,
  );
}

function totalsTable(totals: Total[]): HTMLElement {
  return h(
    "table",
    { class: "preview-totals", "data-testid": "preview-totals" },
    h(
      "thead",
      {},
      h("tr", {}, h("th", {}, "Tier"), h("th", {}, "Kind"), h("th", { class: "num" }, "Paid"), h("th", { class: "num" }, "Reversed")),
    ),
    h(
      "tbody",
      {},
      ...totals.map((t) =>
        h(
          "tr",
          { "data-tier": t.tier, "data-kind": t.kind },
          h("td", {}, `Tier ${t.tier}`),
          h("td", {}, KIND_LABEL[t.kind] ?? t.kind),
          h("td", { class: "num paid" }, yuan(t.paid), h("span", { class: "muted small" }, ` ${count(t.payouts)}`)),
          h("td", { class: "num reversed" }, yuan(t.reversed)),
        ),
      ),
    ),
  );
}

function nextRun(p: Preview): HTMLElement[] {
  return [h("h3", {}, "The next run under the stored plans"), summary(p), totalsTable(p.totals)];
}

function label(d: Difference): string {
  if (d.tier !== null) return `Tier ${d.tier}`;
  if (d.kind !== null) return KIND_LABEL[d.kind] ?? d.kind;
  if (d.memberId !== null) return d.memberId;
  return "Platform retained";
}

function key(d: Difference): string {
  if (d.tier !== null) return `tier-${d.tier}`;
  if (d.kind !== null) return `kind-${d.kind}`;
  if (d.memberId !== null) return `member-${d.memberId}`;
  return "retained";
}

function differenceTable(rows: Difference[], testid: string): HTMLElement {
  return h(
    "table",
    { class: "preview-diff", "data-testid": testid },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, ""),
        h("th", { class: "num" }, "Default plan (committed)"),
        h("th", { class: "num" }, "Candidate"),
        h("th", { class: "num" }, "Difference"),
      ),
    ),
    h(
      "tbody",
      {},
      ...rows.map((d) =>
        h(
          "tr",
          { "data-row": key(d) },
          h("th", {}, label(d)),
          h("td", { class: "num committed" }, yuan(d.committed)),
          h("td", { class: "num candidate" }, yuan(d.preview)),
          h(
            "td",
            { class: d.difference.startsWith("-") ? "num difference negative" : "num difference" },
            signed(d.difference),
          ),
        ),
      ),
    ),
  );
}

function signed(value: string): string {
  return value.startsWith("-") || num(value) === 0 ? yuan(value) : `+${yuan(value)}`;
}

function comparison(p: Preview): Child[] {
  const c = p.comparison;
  if (!c) return [];
  const rows = [...c.tiers, ...c.kinds, c.retained];
  return [
    h("h3", {}, `Candidate plan ${p.planId ?? ""} beside the default plan's committed ledger`),
    summary(p),
    h(
      "p",
      { class: "muted" },
      `Recruiting share: committed ${bp(c.committedCompliance.recruitingShareBp)}, candidate `,
      `${bp(p.compliance.recruitingShareBp)}. ${count(c.membersChanged)} members paid differently.`,
    ),
    h("div", { class: "columns" }, differenceTable(rows, "preview-differences"), diffChart(rows)),
    c.members.length
      ? [h("h3", {}, "Members paid most differently"), differenceTable(c.members, "preview-members")]
      : null,
    h("h3", {}, "The candidate's totals per tier and kind"),
    totalsTable(p.totals),
  ];
}

/** Differences as horizontal bars around zero: green where the candidate pays more. */
function diffChart(rows: Difference[]): HTMLElement {
  const ns = "http://www.w3.org/2000/svg";
  const width = 520;
  const left = 130;
  const rowHeight = 26;
  const height = rows.length * rowHeight + 10;
  const max = Math.max(1, ...rows.map((d) => Math.abs(num(d.difference))));
  const half = (width - left - 90) / 2;
  const zero = left + half;
  const svg = document.createElementNS(ns, "svg");
  const attrs = (el: Element, values: Record<string, string | number>): Element => {
    for (const [k, v] of Object.entries(values)) el.setAttribute(k, String(v));
    return el;
  };
  attrs(svg, { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  svg.setAttribute("aria-label", "difference per tier and kind, candidate less committed");
  const axis = attrs(document.createElementNS(ns, "line"), { x1: zero, x2: zero, y1: 0, y2: height, stroke: "#8a93a6" });
  svg.appendChild(axis);
  rows.forEach((d, i) => {
    const value = num(d.difference);
    const length = (Math.abs(value) / max) * half;
    const y = 5 + i * rowHeight;
    const text = attrs(document.createElementNS(ns, "text"), { x: 4, y: y + 16, "font-size": 12 });
    text.textContent = label(d);
    svg.appendChild(text);
    const bar = attrs(document.createElementNS(ns, "rect"), {
      x: value < 0 ? zero - length : zero,
      y,
      width: Math.max(length, value === 0 ? 0 : 1),
      height: rowHeight - 8,
      fill: value < 0 ? "#c8493c" : "#3a9d5d",
      "data-row": key(d),
      "data-difference": d.difference,
    });
    svg.appendChild(bar);
    const amount = attrs(document.createElementNS(ns, "text"), {
      x: value < 0 ? zero + 4 : zero + length + 4,
      y: y + 14,
      "font-size": 11,
    });
    amount.textContent = signed(d.difference);
    svg.appendChild(amount);
  });
  return h("div", { class: "chart diff-chart", "data-testid": "preview-chart" }, svg);
}
