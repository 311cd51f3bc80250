// One member: who is above, the downline one level at a time, group volume by month, payouts.

import { ApiError, gql } from "./api";
import { timeChart } from "./chart";
import { h, replace } from "./dom";
import { bp, count, day, num, plural, share, yuan } from "./format";
import { fill, stat } from "./panel";
import { INCOME, type Income, incomeStats, PATHS, type Paths, pathCheck } from "./compliance";
import { incomePanels } from "./income";
import { payoutTable, type TierPayouts } from "./payouts";
import { memberRiskFlags } from "./risk";
import { addMonths, getWindow, midnight, today } from "./window";

interface Brief {
  id: string;
  name: string;
  isAgent: boolean;
  downlineCount: number;
}

interface Member extends Brief {
  joinedAt: string;
  agentSince: string | null;
  suspended: boolean;
  upline: { id: string; name: string }[];
}

const MEMBER = `query Member($id: ID!) {
  member(id: $id) {
    id name joinedAt isAgent agentSince suspended downlineCount
    upline(maxDepth: 100) { id name }
  }
}`;

const WINDOWED = `query MemberWindow($id: ID!, $from: DateTime, $to: DateTime) {
  member(id: $id) { metrics(from: $from, to: $to) { downlineSize groupVolume recruits influence atRisk } }
  tierPayouts(memberId: $id, from: $from, to: $to) { lines { tier kind amount count } total }
}`;

const RECRUITS = `query Recruits($id: ID!, $after: String) {
  member(id: $id) {
    directRecruits(first: 20, after: $after) {
      totalCount
      edges { cursor node { id name isAgent downlineCount } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

const FISSION = `query Fission($id: ID!, $from: DateTime, $to: DateTime) {
  member(id: $id) {
    fissionSpeed(from: $from, to: $to) { total weeks { week recruits } }
    activation(from: $from, to: $to, days: 30) { days recruits activated shareBp }
  }
}`;

const COMPLIANCE = `query MemberCompliance($id: ID!, $from: DateTime, $to: DateTime) {
  member(id: $id) { compliance(from: $from, to: $to) { mostlyRecruiting mostlyTeamPay ${INCOME} ${PATHS} } }
}`;

interface RecruitPage {
  totalCount: number;
  edges: { cursor: string; node: Brief }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const MONTHS = 12;

export function memberView(id: string, onError: (e: unknown) => void): HTMLElement {
  const head = h("div", { class: "card", "data-testid": "member-card" }, "Loading…");
  const upline = h("nav", { class: "upline", "aria-label": "upline", "data-testid": "upline" });
  const tree = h("ul", { class: "tree", "data-testid": "tree" });
  const stats = h("div", { class: "stats" });
  const payouts = h("div", { "data-testid": "member-payouts" });
  const chart = h("div", { "data-testid": "volume-chart" });
  const chartTitle = h("h3", {}, "Group volume by month");
  const fission = h("div", { "data-testid": "member-growth" });
  const compliance = h("div", { "data-testid": "member-compliance" });
  const riskFlags = h("div", { "data-testid": "member-risk" });

  const fail = (where: HTMLElement, e: unknown): void => {
    if (e instanceof ApiError && e.code === "NOT_FOUND") {
      replace(where, h("p", { class: "notice" }, `No member ${id}.`));
      return;
    }
    replace(where, h("p", { class: "error" }, (e as Error).message));
    onError(e);
  };

  async function loadMember(): Promise<void> {
    try {
      const { member } = await gql<{ member: Member | null }>(MEMBER, { id });
      if (!member) {
        replace(head, h("p", { class: "notice" }, `No member ${id}.`));
        return;
      }
      replace(
        head,
        h("h2", {}, member.name, " ", h("span", { class: "muted" }, member.id)),
        h(
          "p",
          {},
          `Joined ${day(member.joinedAt)} · `,
          member.isAgent
            ? h("span", { class: "badge" }, `agent since ${day(member.agentSince)}`)
            : h("span", { class: "badge grey" }, "not an agent"),
          member.suspended ? h("span", { class: "badge red" }, "suspended") : null,
          ` · ${count(member.downlineCount)} in the downline`,
        ),
      );
      const chain = [...member.upline].reverse();
      replace(
        upline,
        chain.length === 0 ? h("span", { class: "muted" }, "A root member: no sponsor. ") : null,
        ...chain.map((u) => [memberLink(u.id, u.name), h("span", { class: "sep" }, " › ")]),
        h("strong", {}, member.id),
      );
      const root = treeNode(member, onError);
      replace(tree, root);
      void (root as TreeItem).expand();
    } catch (e) {
      fail(head, e);
    }
  }

  let generation = 0;
  async function loadWindowed(): Promise<void> {
    const mine = ++generation;
    const w = getWindow();
    try {
      const data = await gql<{
        member: { metrics: Record<string, string | number> | null } | null;
        tierPayouts: TierPayouts;
      }>(WINDOWED, { id, from: w.from, to: w.to });
      if (mine !== generation) return;
      const m = data.member?.metrics;
      replace(
        stats,
        m
          ? [
              stat("Group volume", yuan(String(m.groupVolume))),
              stat("Downline", count(m.downlineSize)),
              stat("Recruits", count(m.recruits)),
              stat("Influence", yuan(String(m.influence))),
              stat("At risk", share(String(m.atRisk))),
            ]
          : h("p", { class: "muted" }, "No metrics for this window."),
      );
      replace(payouts, payoutTable(data.tierPayouts));
    } catch (e) {
      if (mine === generation) fail(payouts, e);
    }
    void loadChart(mine);
    const vars = { id, from: w.from, to: w.to };
    fill(fission, () => growth(vars), onError, () => mine === generation);
    fill(compliance, () => complianceOf(vars), onError, () => mine === generation);
  }

  async function loadChart(mine: number): Promise<void> {
    const w = getWindow();
    // Twelve calendar months ending with the window's last month (or this month).
    const endDay = w.to ? w.to.slice(0, 10) : addMonths(today(), 1);
    const end = endDay.endsWith("-01") ? endDay : addMonths(endDay, 1);
    const months = Array.from({ length: MONTHS }, (_, i) => addMonths(end, i - MONTHS));
    const vars: Record<string, unknown> = { id };
    const fields = months.map((m, i) => {
      vars[`f${i}`] = midnight(m);
      vars[`t${i}`] = midnight(addMonths(m, 1));
      return `m${i}: subtreeRevenue(memberId: $id, from: $f${i}, to: $t${i}) { groupVolume orderCount }`;
    });
    const params = months.map((_, i) => `$f${i}: DateTime, $t${i}: DateTime`).join(", ");
    try {
      const data = await gql<Record<string, { groupVolume: string; orderCount: number } | null>>(
        `query Volume($id: ID!, ${params}) { ${fields.join("\n")} }`,
        vars,
      );
      if (mine !== generation) return;
      const rows = months.map((_, i) => data[`m${i}`]);
      replace(chartTitle, `Group volume by month, ${months[0]?.slice(0, 7)} – ${months.at(-1)?.slice(0, 7)}`);
      replace(
        chart,
        timeChart(months, [
          {
            label: "Group volume (¥)",
            values: rows.map((r) => (r ? num(r.groupVolume) : null)),
            color: "#2f6fdd",
            bars: true,
            format: (v) => `¥${Math.round(v).toLocaleString("en-US")}`,
          },
        ]),
        h(
          "p",
          { class: "muted" },
          `${count(rows.reduce((s, r) => s + (r?.orderCount ?? 0), 0))} orders in these months.`,
        ),
      );
    } catch (e) {
      if (mine === generation) fail(chart, e);
    }
  }

  void loadMember();
  void loadWindowed();
  fill(riskFlags, () => memberRiskFlags(id), onError);
  const view = h(
    "section",
    { class: "view", "data-view": "member", "data-member": id },
    head,
    h("h3", {}, "Upline"),
    upline,
    h("h3", {}, "Key-node metrics in the window"),
    stats,
    h(
      "div",
      { class: "columns" },
      h("div", {}, h("h3", {}, "Downline"), tree),
      h("div", {}, chartTitle, chart, h("h3", {}, "Tier payouts in the window"), payouts),
    ),
    h("h3", {}, "Branch growth in the window"),
    fission,
    h("h3", {}, "Compliance in the window"),
    compliance,
    h("h3", {}, "Risk flags"),
    riskFlags,
    incomePanels(id, onError),
  );
  (view as HTMLElement & { reload?: () => void }).reload = () => void loadWindowed();
  return view;
}

type Vars = { id: string; from: string | null; to: string | null };

async function growth(vars: Vars): Promise<HTMLElement[]> {
  const { member } = await gql<{
    member: {
      fissionSpeed: { total: number; weeks: { week: string; recruits: number }[] } | null;
      activation: { days: number; recruits: number; activated: number; shareBp: number } | null;
    } | null;
  }>(FISSION, vars);
  const f = member?.fissionSpeed;
  const a = member?.activation;
  const out: HTMLElement[] = [];
  if (a) {
    out.push(
      h(
        "p",
        {},
        `Activation: ${count(a.activated)} of ${plural(a.recruits, "direct recruit")} who joined `,
        `in the window became agents within ${a.days} days (${bp(a.shareBp)}).`,
      ),
    );
  }
  if (f && f.weeks.length > 0) {
    out.push(
      h("p", {}, `${plural(f.total, "member")} joined the downline; per week:`),
      timeChart(
        f.weeks.map((w) => w.week.slice(0, 10)),
        [
          {
            label: "Recruits into the downline",
            values: f.weeks.map((w) => w.recruits),
            color: "#3a9d5d",
            bars: true,
          },
        ],
        { unit: "week", height: 180 },
      ),
    );
  } else {
    out.push(h("p", { class: "muted" }, "Nobody joined the downline in this window."));
  }
  return out;
}

async function complianceOf(vars: Vars): Promise<HTMLElement[]> {
  const { member } = await gql<{
    member: {
      compliance: { mostlyRecruiting: boolean; mostlyTeamPay: boolean; income: Income; paths: Paths };
    } | null;
  }>(COMPLIANCE, vars);
  const c = member?.compliance;
  if (!c) return [h("p", { class: "muted" }, "No figures.")];
  const flags = [
    c.mostlyRecruiting ? h("span", { class: "badge red" }, "income mostly from recruiting") : null,
    c.mostlyTeamPay ? h("span", { class: "badge red" }, "income mostly team pay") : null,
  ].filter((x): x is HTMLSpanElement => x !== null);
  return [
    incomeStats(c.income),
    h("p", {}, flags.length ? flags : h("span", { class: "muted" }, "No flags.")),
    pathCheck(c.paths),
  ];
}

function memberLink(id: string, name: string): HTMLElement {
  return h("a", { href: `#/member/${encodeURIComponent(id)}`, title: name }, id);
}

type TreeItem = HTMLLIElement & { expand: () => Promise<void> };

/** A tree row whose recruits load on the first expand, 20 at a time. */
function treeNode(m: Brief, onError: (e: unknown) => void): TreeItem {
  const children = h("ul", { hidden: true });
  const leaf = m.downlineCount === 0;
  const toggle = h(
    "button",
    {
      class: "toggle",
      "aria-expanded": "false",
      "aria-label": `recruits of ${m.id}`,
      disabled: leaf,
    },
    leaf ? "·" : "▸",
  );
  const item = h(
    "li",
    { "data-member": m.id },
    h(
      "div",
      { class: "node" },
      toggle,
      memberLink(m.id, m.name),
      " ",
      h("span", { class: "muted" }, m.name),
      m.isAgent ? h("span", { class: "badge" }, "agent") : null,
      leaf ? null : h("span", { class: "muted small" }, ` ${count(m.downlineCount)} below`),
    ),
    children,
  ) as TreeItem;

  let loaded = false;
  async function loadPage(after: string | null, more: HTMLElement | null): Promise<void> {
    try {
      const data = await gql<{ member: { directRecruits: RecruitPage } | null }>(RECRUITS, {
        id: m.id,
        after,
      });
      more?.remove();
      const page = data.member?.directRecruits;
      if (!page) return;
      for (const edge of page.edges) children.appendChild(treeNode(edge.node, onError));
      if (page.pageInfo.hasNextPage) {
        const shown = children.querySelectorAll(":scope > li[data-member]").length;
        const button: HTMLLIElement = h(
          "li",
          { class: "more" },
          h(
            "button",
            {
              onclick: () => {
                button.querySelector("button")?.setAttribute("disabled", "");
                void loadPage(page.pageInfo.endCursor, button);
              },
            },
            `Show more (${count(shown)} of ${count(page.totalCount)})`,
          ),
        );
        children.appendChild(button);
      }
    } catch (e) {
      children.appendChild(h("li", { class: "error" }, (e as Error).message));
      onError(e);
    }
  }

  item.expand = async () => {
    if (leaf) return;
    const open = toggle.getAttribute("aria-expanded") === "true";
    if (open) {
      toggle.setAttribute("aria-expanded", "false");
      toggle.textContent = "▸";
      children.hidden = true;
      return;
    }
    toggle.setAttribute("aria-expanded", "true");
    toggle.textContent = "▾";
    children.hidden = false;
    if (!loaded) {
      loaded = true;
      await loadPage(null, null);
    }
  };
  toggle.addEventListener("click", () => void item.expand());
  return item;
}
