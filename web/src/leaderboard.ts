// Key nodes: topInfluencers by one metric over the window, the other metrics beside it.

import { ApiError, gql } from "./api";
import { bar } from "./chart";
import { h, replace } from "./dom";
import { count, num, share, yuan } from "./format";
import { getWindow } from "./window";

export const METRICS = [
  { key: "GROUP_VOLUME", label: "Group volume", hint: "the subtree's personal volume" },
  { key: "DOWNLINE_SIZE", label: "Downline size", hint: "members below" },
  { key: "RECRUITS", label: "Recruits", hint: "direct recruits who joined in the window" },
  { key: "INFLUENCE", label: "Influence", hint: "volume weighted ½ per level down" },
  { key: "AT_RISK", label: "At risk", hint: "share of the platform's group volume" },
] as const;
type Metric = (typeof METRICS)[number]["key"];

interface Row {
  rank: number;
  value: string;
  downlineSize: number;
  groupVolume: string;
  recruits: number;
  influence: string;
  atRisk: string;
  member: { id: string; name: string; isAgent: boolean };
}

const QUERY = `query Leaderboard($metric: InfluenceMetric!, $from: DateTime, $to: DateTime, $limit: Int) {
  topInfluencers(metric: $metric, from: $from, to: $to, limit: $limit) {
    rank value downlineSize groupVolume recruits influence atRisk
    member { id name isAgent }
  }
}`;

let metric: Metric = "GROUP_VOLUME";
let limit = 20;

function shown(m: Metric, value: string): string {
  if (m === "GROUP_VOLUME" || m === "INFLUENCE") return yuan(value);
  if (m === "AT_RISK") return share(value);
  return count(value);
}

export function leaderboardView(onError: (e: unknown) => void): HTMLElement {
  const table = h("div", { class: "table-wrap", "data-testid": "leaderboard" });
  const caption = h("p", { class: "muted" });
  const buttons = METRICS.map((m) =>
    h(
      "button",
      {
        class: m.key === metric ? "seg active" : "seg",
        title: m.hint,
        "data-metric": m.key,
        onclick: () => {
          metric = m.key;
          for (const b of buttons) b.classList.toggle("active", b.dataset.metric === metric);
          void load();
        },
      },
      m.label,
    ),
  );
  const limitSelect = h(
    "select",
    {
      "aria-label": "rows",
      onchange: (e: Event) => {
        limit = Number((e.target as HTMLSelectElement).value);
        void load();
      },
    },
    ...[10, 20, 50, 100].map((n) => h("option", { value: n, selected: n === limit }, `Top ${n}`)),
  );

  let generation = 0;
  async function load(): Promise<void> {
    const mine = ++generation;
    const w = getWindow();
    table.setAttribute("aria-busy", "true");
    try {
      const data = await gql<{ topInfluencers: Row[] }>(QUERY, {
        metric,
        from: w.from,
        to: w.to,
        limit,
      });
      if (mine !== generation) return;
      const label = METRICS.find((m) => m.key === metric)?.label ?? metric;
      replace(caption, `${label}, ${w.label.toLowerCase()}; ties by member id.`);
      replace(table, rows(data.topInfluencers));
      table.dataset.metric = metric;
    } catch (e) {
      if (mine !== generation) return;
      if (e instanceof ApiError && e.code === "FORBIDDEN") {
        replace(table, h("p", { class: "notice" }, "The leaderboard is for analysts and admins."));
      } else {
        replace(table, h("p", { class: "error" }, String((e as Error).message)));
        onError(e);
      }
    } finally {
      if (mine === generation) table.removeAttribute("aria-busy");
    }
  }

  function rows(list: Row[]): HTMLElement {
    if (list.length === 0) return h("p", { class: "muted" }, "Nobody ranks in this window.");
    const max = Math.max(...list.map((r) => num(r.value)));
    const col = (m: Metric, text: string): HTMLElement =>
      h("td", { class: m === metric ? "num ranked" : "num" }, text);
    return h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "#"),
          h("th", {}, "Member"),
          h("th", { class: "num" }, "Value"),
          ...METRICS.map((m) => h("th", { class: "num" }, m.label)),
        ),
      ),
      h(
        "tbody",
        {},
        ...list.map((r) =>
          h(
            "tr",
            { "data-member": r.member.id },
            h("td", {}, r.rank),
            h(
              "td",
              {},
              h("a", { href: `#/member/${encodeURIComponent(r.member.id)}` }, r.member.id),
              " ",
              h("span", { class: "muted" }, r.member.name),
              r.member.isAgent ? h("span", { class: "badge" }, "agent") : null,
            ),
            h(
              "td",
              { class: "num value" },
              h("span", { class: "value-text" }, shown(metric, r.value)),
              bar(num(r.value), max),
            ),
            col("GROUP_VOLUME", yuan(r.groupVolume)),
            col("DOWNLINE_SIZE", count(r.downlineSize)),
            col("RECRUITS", count(r.recruits)),
            col("INFLUENCE", yuan(r.influence)),
            col("AT_RISK", share(r.atRisk)),
          ),
        ),
      ),
    );
  }

  void load();
  const view = h(
    "section",
    { class: "view", "data-view": "leaderboard" },
    h("h2", {}, "Key nodes"),
    h("div", { class: "toolbar" }, h("div", { class: "segs", role: "group" }, buttons), limitSelect),
    caption,
    table,
  );
  (view as HTMLElement & { reload?: () => void }).reload = () => void load();
  return view;
}
