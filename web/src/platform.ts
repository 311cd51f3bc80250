// The whole platform: agents over time, payouts by tier and kind, the compliance figures.
// Each panel asks for its own fields, so a server without some of them still shows the rest.

import { gql } from "./api";
import { timeChart } from "./chart";
import { type Child, h } from "./dom";
import { bp, count, num, plural, yuan } from "./format";
import { fill } from "./panel";
import { INCOME, type Income, incomeStats, PATHS, type Paths, pathCheck } from "./compliance";
import { payoutTable, type TierPayouts } from "./payouts";
import { addDays, addMonths, getWindow, midnight, today } from "./window";

const PAYOUTS = `query PlatformPayouts($from: DateTime, $to: DateTime) {
  tierPayouts(from: $from, to: $to) { lines { tier kind amount count } total platformRetained }
}`;

const COHORTS = `query PlatformCohorts($from: DateTime, $to: DateTime) {
  cohortRetention(months: 6, from: $from, to: $to) { months cohorts { month agents active shareBp } }
}`;

const GROWTH = `query PlatformGrowth($from: DateTime!, $to: DateTime!) {
  platformGrowth(from: $from, to: $to, granularity: MONTH) {
    buckets { start membersJoined agents orders volume }
  }
}`;

interface GrowthBucket {
  start: string;
  membersJoined: number;
  agents: number;
  orders: number;
  volume: string;
}

const COMPLIANCE = `query PlatformCompliance($from: DateTime, $to: DateTime) {
  compliance(from: $from, to: $to, limit: 20) {
    membersPaid recruitingBp teamPayBp flaggedCount
    ${INCOME}
    flagged { memberId member { name } mostlyRecruiting mostlyTeamPay ${INCOME} }
    ${PATHS}
  }
}`;

interface Cohort {
  month: string;
  agents: number;
  active: number[];
  shareBp: number[];
}

interface PlatformCompliance {
  membersPaid: number;
  recruitingBp: number;
  teamPayBp: number;
  flaggedCount: number;
  income: Income;
  flagged: {
    memberId: string;
    member: { name: string } | null;
    mostlyRecruiting: boolean;
    mostlyTeamPay: boolean;
    income: Income;
  }[];
  paths: Paths;
}

async function growth(): Promise<Child[]> {
  const w = getWindow();
  const data = await gql<{ cohortRetention: { months: number; cohorts: Cohort[] } | null }>(
    COHORTS,
    { from: w.from, to: w.to },
  );
  const cohorts = data.cohortRetention?.cohorts ?? [];
  if (cohorts.length === 0) return [h("p", { class: "muted" }, "Nobody became an agent in this window.")];
  const byMonth = new Map(cohorts.map((c) => [c.month.slice(0, 10), c]));
  const months: string[] = [];
  const last = cohorts.at(-1)?.month.slice(0, 10) ?? "";
  for (let m = cohorts[0]?.month.slice(0, 10) ?? last; m <= last; m = addMonths(m, 1)) months.push(m);
  let running = 0;
  const total = months.map((m) => (running += byMonth.get(m)?.agents ?? 0));
  const months0 = data.cohortRetention?.months ?? 6;
  return [
    h(
      "p",
      { class: "muted small" },
      "New agents per month (by their first gift package) and the running total.",
    ),
    timeChart(months, [
      {
        label: "New agents",
        values: months.map((m) => byMonth.get(m)?.agents ?? 0),
        color: "#2f6fdd",
        bars: true,
      },
      { label: "Agents so far", values: total, color: "#d9822b", right: true },
    ]),
    h("h4", {}, "Cohort retention: share of a month's new agents still buying k months later"),
    h(
      "table",
      { class: "cohorts" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Became agents"),
          h("th", { class: "num" }, "Agents"),
          ...Array.from({ length: months0 + 1 }, (_, k) => h("th", { class: "num" }, `+${k}`)),
        ),
      ),
      h(
        "tbody",
        {},
        ...cohorts.map((c) =>
          h(
            "tr",
            {},
            h("td", {}, c.month.slice(0, 7)),
            h("td", { class: "num" }, count(c.agents)),
            ...Array.from({ length: months0 + 1 }, (_, k) => {
              const share = c.shareBp[k];
              return share === undefined
                ? h("td", {})
                : h(
                    "td",
                    {
                      class: "num heat",
                      style: `background: rgba(47,111,221,${(share / 10_000) * 0.6})`,
                      title: `${plural(c.active[k] ?? 0, "agent")}`,
                    },
                    bp(share),
                  );
            }),
          ),
        ),
      ),
    ),
  ];
}

async function compliance(): Promise<Child[]> {
  const w = getWindow();
  const { compliance: c } = await gql<{ compliance: PlatformCompliance }>(COMPLIANCE, {
    from: w.from,
    to: w.to,
  });
  return [
    incomeStats(c.income),
    pathCheck(c.paths),
    h(
      "h4",
      {},
      `${plural(c.flaggedCount, "member")} of ${count(c.membersPaid)} paid earn mostly from ` +
        `recruiting (over ${bp(c.recruitingBp)}) or team pay (over ${bp(c.teamPayBp)})`,
    ),
    c.flagged.length
      ? h(
          "table",
          { "data-testid": "flagged" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, "Member"),
              h("th", { class: "num" }, "Income"),
              h("th", { class: "num" }, "Recruiting"),
              h("th", { class: "num" }, "Team pay"),
              h("th", {}, "Flags"),
            ),
          ),
          h(
            "tbody",
            {},
            ...c.flagged.map((f) =>
              h(
                "tr",
                {},
                h(
                  "td",
                  {},
                  h("a", { href: `#/member/${encodeURIComponent(f.memberId)}` }, f.memberId),
                  " ",
                  h("span", { class: "muted" }, f.member?.name ?? ""),
                ),
                h("td", { class: "num" }, yuan(f.income.total)),
                h("td", { class: "num" }, bp(f.income.giftPackageBp)),
                h("td", { class: "num" }, bp(f.income.teamPayBp)),
                h(
                  "td",
                  {},
                  f.mostlyRecruiting ? h("span", { class: "badge red" }, "recruiting") : null,
                  f.mostlyTeamPay ? h("span", { class: "badge red" }, "team pay") : null,
                ),
              ),
            ),
          ),
        )
      : null,
  ];
}

async function payouts(): Promise<HTMLElement> {
  const w = getWindow();
  const data = await gql<{ tierPayouts: TierPayouts }>(PAYOUTS, { from: w.from, to: w.to });
  return payoutTable(data.tierPayouts);
}

/** Members joined, new agents, orders and volume per month; an open window ends now and
 * starts 12 months before its end. */
async function months(): Promise<Child[]> {
  const w = getWindow();
  const to = w.to ?? midnight(addDays(today(), 1));
  const from = w.from ?? midnight(addMonths(to.slice(0, 10), -12));
  const data = await gql<{ platformGrowth: { buckets: GrowthBucket[] } }>(GROWTH, { from, to });
  const rows = data.platformGrowth.buckets;
  const starts = rows.map((b) => b.start);
  return [
    timeChart(starts, [
      { label: "Members joined", values: rows.map((b) => b.membersJoined), color: "#2f6fdd", bars: true },
      { label: "New agents", values: rows.map((b) => b.agents), color: "#3a9d5d", bars: true },
      // Plotted only: the table shows the exact yuan.
      { label: "Volume", values: rows.map((b) => num(b.volume)), color: "#d9822b", right: true, format: (v) => `¥${v.toFixed(0)}` },
    ]),
    h(
      "table",
      { class: "growth" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Month"),
          h("th", { class: "num" }, "Joined"),
          h("th", { class: "num" }, "New agents"),
          h("th", { class: "num" }, "Orders"),
          h("th", { class: "num" }, "Volume"),
        ),
      ),
      h(
        "tbody",
        {},
        ...rows.map((b) =>
          h(
            "tr",
            {},
            h("td", {}, b.start.slice(0, 7)),
            h("td", { class: "num" }, count(b.membersJoined)),
            h("td", { class: "num" }, count(b.agents)),
            h("td", { class: "num" }, count(b.orders)),
            h("td", { class: "num" }, yuan(b.volume)),
          ),
        ),
      ),
    ),
  ];
}

const PANELS = [
  { title: "Growth per month", testid: "platform-months", load: months },
  { title: "Agents over time", testid: "platform-growth", load: growth },
  { title: "Payouts by tier and kind", testid: "platform-payouts", load: payouts },
  { title: "Compliance", testid: "platform-compliance", load: compliance },
];

export function platformView(onError: (e: unknown) => void): HTMLElement {
  const boxes = PANELS.map((p) => h("div", { "data-testid": p.testid }, "Loading…"));
  let generation = 0;
  function load(): void {
    const mine = ++generation;
    PANELS.forEach((panel, i) =>
      fill(boxes[i] as HTMLElement, panel.load, onError, () => mine === generation),
    );
  }
  load();
  const view = h(
    "section",
    { class: "view", "data-view": "platform" },
    h("h2", {}, "Platform"),
    ...PANELS.map((p, i) => [h("h3", {}, p.title), boxes[i]]),
  );
  (view as HTMLElement & { reload?: () => void }).reload = load;
  return view;
}
