// The risk graph: clusters of members linked by shared identity signals, each with its evidence,
// and the selected one drawn as a small graph (cytoscape, loaded only when a cluster is drawn).

import type { Core, ElementDefinition } from "cytoscape";
import { gql } from "./api";
import { type Child, h, replace } from "./dom";
import { count, plural, yuan } from "./format";
import { fill } from "./panel";

declare global {
  interface Window {
    /** The cytoscape instance of the cluster drawn last, for tests and the console. */
    __riskGraph?: Core;
  }
}

const KINDS = [
  { key: "", label: "Every kind" },
  { key: "SELF_REFERRAL", label: "Self-referral" },
  { key: "DUPLICATE_ACCOUNTS", label: "Duplicate accounts" },
  { key: "FARM", label: "Farm" },
  { key: "DEPTH_RING", label: "Depth ring" },
] as const;

const PAGE = 20;
/** Members named in a list row; the selected cluster names them all. */
const SHOWN_MEMBERS = 10;
/** Larger clusters are listed but not drawn: a drawing of hundreds of nodes explains nothing. */
const MAX_DRAWN = 200;

interface Identifier {
  kind: string;
  value: string;
}

interface Flag {
  id: string;
  kind: string;
  size: number;
  state: string;
  evidence: {
    members: string[];
    identifierCount: number;
    identifiers: Identifier[];
    tierDistance: number | null;
    moneyAtStake: string;
    sponsorId: string | null;
    chain: string[];
  };
}

/** A cluster's edges (RiskEvidence.uses and .sponsorships), read when it is drawn. */
interface Edges {
  id: string;
  evidence: {
    uses: (Identifier & { member: string })[];
    sponsorships: { member: string; sponsor: string }[];
  };
}

interface Page {
  totalCount: number;
  edges: { cursor: string; node: Flag }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

// The page size is written in the query, not passed: the cost limit (api/limits.py) counts a
// variable page as the largest one (100).
const CLUSTERS = `query RiskClusters($kind: RiskKind, $minSize: Int, $after: String) {
  riskClusters(kind: $kind, minSize: $minSize, first: ${PAGE}, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id kind size state
      evidence {
        members identifierCount identifiers(first: 20) { kind value } tierDistance moneyAtStake
        sponsorId chain
      }
    } }
  }
}`;

// One cluster's edges, by its place in the list: the page of one after its predecessor's cursor
// (the list is by flag id). Asking every row for its edges would cost more than a query may.
const CLUSTER_EDGES = `query RiskClusterEdges($kind: RiskKind, $minSize: Int, $after: String) {
  riskClusters(kind: $kind, minSize: $minSize, first: 1, after: $after) {
    edges { node { id evidence { uses { member kind value } sponsorships { member sponsor } } } }
  }
}`;

const MEMBER_FLAGS = `query MemberRisk($id: ID!) {
  member(id: $id) { risk { flags { id kind size state evidence { tierDistance moneyAtStake identifierCount } } } }
}`;

/** SELF_REFERRAL as "self-referral", the way the issue names the patterns. */
export function kindLabel(kind: string): string {
  return kind.toLowerCase().replace(/_/g, "-");
}

function stateText(state: string): string {
  return state.toLowerCase();
}

function identifierText(i: Identifier): string {
  return `${i.kind.toLowerCase()} ${i.value}`;
}

function memberLinks(ids: string[]): Child[] {
  return ids.map((id, n) => [n ? ", " : "", h("a", { href: `#/member/${encodeURIComponent(id)}` }, id)]);
}

export function riskView(onError: (e: unknown) => void): HTMLElement {
  const kind = h(
    "select",
    { "aria-label": "kind", "data-testid": "risk-kind" },
    KINDS.map((k) => h("option", { value: k.key }, k.label)),
  );
  const minSize = h("input", {
    type: "number",
    min: 1,
    value: 2,
    "aria-label": "minimum size",
    "data-testid": "risk-min-size",
  });
  const list = h("div", { class: "table-wrap", "data-testid": "risk-clusters" });
  const detail = h("div", { "data-testid": "risk-detail" });
  const drawing = h("div", { class: "risk-graph", "data-testid": "risk-graph", hidden: true });

  let generation = 0;
  let selected: HTMLElement | null = null;

  function load(): void {
    const mine = ++generation;
    const size = Math.max(1, Math.trunc(Number(minSize.value) || 1));
    const vars = { kind: kind.value || null, minSize: size };
    fill(list, () => firstPage(vars, mine), onError, () => mine === generation);
  }

  async function firstPage(vars: Record<string, unknown>, mine: number): Promise<Child> {
    const { riskClusters: page } = await gql<{ riskClusters: Page }>(CLUSTERS, vars);
    const body = h("tbody", {});
    const caption = h("p", { class: "muted", "data-testid": "risk-count" });
    const more = h("button", { "data-testid": "risk-more" }, "More");
    const shown = (): number => body.querySelectorAll("tr[data-flag]").length;
    let previous: string | null = null;
    const add = (p: Page): void => {
      for (const edge of p.edges) {
        body.appendChild(row(edge.node, { ...vars, after: previous }));
        previous = edge.cursor;
      }
      replace(caption, `${count(shown())} of ${count(p.totalCount)} clusters`);
      more.hidden = !p.pageInfo.hasNextPage;
      more.dataset.after = p.pageInfo.endCursor ?? "";
    };
    more.addEventListener("click", () => {
      more.setAttribute("disabled", "");
      gql<{ riskClusters: Page }>(CLUSTERS, { ...vars, after: more.dataset.after })
        .then((next) => {
          if (mine === generation) add(next.riskClusters);
        })
        .catch((e: unknown) => {
          more.after(h("p", { class: "error" }, (e as Error).message));
          onError(e);
        })
        .finally(() => more.removeAttribute("disabled"));
    });
    add(page);
    if (page.totalCount === 0) {
      return h("p", { class: "muted", "data-testid": "risk-count" }, "No clusters: run `downline risk refresh`?");
    }
    return [
      caption,
      h(
        "table",
        { class: "risk" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", {}, "Kind"),
            h("th", {}, "Members"),
            h("th", {}, "Identifiers shared"),
            h("th", { class: "num" }, "Tier distance"),
            h("th", { class: "num" }, "Money at stake"),
            h("th", {}, "State"),
            h("th", {}, ""),
          ),
        ),
        body,
      ),
      more,
    ];
  }

  function row(f: Flag, at: Record<string, unknown>): HTMLElement {
    const e = f.evidence;
    const select = (): void => {
      selected?.classList.remove("selected");
      tr.classList.add("selected");
      selected = tr;
      show(f, at);
    };
    const tr = h(
      "tr",
      { "data-flag": f.id, "data-kind": f.kind },
      h("td", { class: "kind" }, kindLabel(f.kind)),
      h(
        "td",
        { class: "members" },
        `${count(f.size)}: `,
        memberLinks(e.members.slice(0, SHOWN_MEMBERS)),
        e.members.length > SHOWN_MEMBERS ? ", …" : "",
        e.sponsorId ? ` (sponsor ${e.sponsorId})` : "",
      ),
      h(
        "td",
        { class: "identifiers" },
        e.identifiers.slice(0, 3).map(identifierText).join(", "),
        e.identifierCount > 3 ? ` (+${count(e.identifierCount - 3)})` : "",
      ),
      h("td", { class: "num tier" }, e.tierDistance === null ? "–" : String(e.tierDistance)),
      h("td", { class: "num money" }, yuan(e.moneyAtStake)),
      h("td", { class: "state" }, stateText(f.state)),
      h("td", {}, h("button", { class: "draw", onclick: select }, "Draw")),
    );
    return tr;
  }

  function show(f: Flag, at: Record<string, unknown>): void {
    const e = f.evidence;
    replace(
      detail,
      h(
        "div",
        { class: "card", "data-flag": f.id },
        h("h3", {}, `${kindLabel(f.kind)}: ${plural(f.size, "member")}`, " ", h("span", { class: "muted small" }, f.id)),
        h("p", {}, "Members: ", memberLinks(e.members)),
        e.chain.length ? h("p", {}, "Chain, top first: ", memberLinks(e.chain)) : null,
        e.sponsorId ? h("p", {}, "Sponsor of the recruits: ", memberLinks([e.sponsorId])) : null,
        h(
          "p",
          {},
          `Identifiers shared (${count(e.identifierCount)}): `,
          e.identifiers.map(identifierText).join(", "),
        ),
        e.tierDistance === null ? null : h("p", {}, `Tier distance: ${e.tierDistance}`),
        h("p", {}, "Money at stake (net payouts to these members): ", h("strong", { class: "money" }, yuan(e.moneyAtStake))),
      ),
    );
    window.__riskGraph?.destroy();
    window.__riskGraph = undefined;
    delete drawing.dataset.state;
    if (f.size > MAX_DRAWN) {
      drawing.hidden = true;
      detail.appendChild(h("p", { class: "notice" }, `Too large to draw (more than ${count(MAX_DRAWN)} members).`));
      return;
    }
    drawing.hidden = false;
    const mine = generation;
    draw(drawing, f, at)
      .then((cy) => {
        if (mine !== generation || selected?.dataset.flag !== f.id) {
          cy.destroy();
          return;
        }
        window.__riskGraph = cy;
      })
      .catch((err: unknown) => {
        replace(drawing, h("p", { class: "error" }, (err as Error).message));
        onError(err);
      });
  }

  kind.addEventListener("change", () => load());
  minSize.addEventListener("change", () => load());
  load();
  return h(
    "section",
    { class: "view", "data-view": "risk", "data-testid": "risk-view" },
    h("h2", {}, "Risk clusters"),
    h(
      "p",
      { class: "muted" },
      "Members linked by shared identity signals (phone, device, payee account), as of the last ",
      h("code", {}, "downline risk refresh"),
      ". Draw one to see who uses what and who sponsored whom.",
    ),
    h(
      "div",
      { class: "toolbar" },
      h("label", {}, "Kind ", kind),
      h("label", {}, "At least ", minSize, " members"),
    ),
    list,
    detail,
    drawing,
  );
}

/** The cluster as a graph: member and identifier nodes, USES (member → identifier) and
 * SPONSORED_BY (member → sponsor) edges inside the cluster. */
function elements(f: Flag, edges: Edges): ElementDefinition[] {
  const e = { ...f.evidence, ...edges.evidence };
  const inChain = new Set(e.chain);
  const members: ElementDefinition[] = e.members.map((id) => ({
    group: "nodes",
    data: { id: `m:${id}`, label: id, member: id },
    classes: id === e.sponsorId || inChain.has(id) ? "member key" : "member",
  }));
  const identifiers = new Map<string, ElementDefinition>();
  const uses: ElementDefinition[] = [];
  for (const u of e.uses) {
    const key = `i:${u.kind}:${u.value}`;
    if (!identifiers.has(key)) {
      const data = { id: key, label: identifierText(u), kind: u.kind, value: u.value };
      identifiers.set(key, { group: "nodes", data, classes: "identifier" });
    }
    uses.push({
      group: "edges",
      data: { id: `u:${u.member}|${key}`, source: `m:${u.member}`, target: key, type: "USES" },
      classes: "uses",
    });
  }
  const sponsored: ElementDefinition[] = e.sponsorships.map((s) => ({
    group: "edges",
    data: { id: `s:${s.member}`, source: `m:${s.member}`, target: `m:${s.sponsor}`, type: "SPONSORED_BY" },
    classes: "sponsor",
  }));
  return [...members, ...identifiers.values(), ...uses, ...sponsored];
}

type Cytoscape = typeof import("cytoscape");

// A chunk of its own, fetched on the first drawing: the dashboard's bundle stays without it.
function loadCytoscape(): Promise<Cytoscape> {
  return import("cytoscape").then((m) => m.default);
}

async function draw(box: HTMLElement, f: Flag, at: Record<string, unknown>): Promise<Core> {
  box.setAttribute("aria-busy", "true");
  try {
    const [data, cytoscape] = await Promise.all([
      gql<{ riskClusters: { edges: { node: Edges }[] } }>(CLUSTER_EDGES, at),
      loadCytoscape(),
    ]);
    const found = data.riskClusters.edges[0]?.node;
    if (!found || found.id !== f.id) throw new Error("the flags changed since the list loaded: reload it");
    box.replaceChildren();
    const cy = cytoscape({
      container: box,
      elements: elements(f, found),
      layout: { name: "cose", animate: false, randomize: false, padding: 20 },
      maxZoom: 1.5, // a cluster of a few members is not blown up to fill the box
      style: [
        {
          selector: "node",
          style: { label: "data(label)", "font-size": 10, "text-valign": "bottom", "text-margin-y": 3 },
        },
        { selector: "node.member", style: { "background-color": "#2f6fdd", width: 22, height: 22 } },
        { selector: "node.key", style: { "border-width": 3, "border-color": "#b3261e" } },
        {
          selector: "node.identifier",
          style: { shape: "diamond", "background-color": "#e59a1c", width: 16, height: 16, color: "#6b7385" },
        },
        { selector: "edge", style: { width: 1.5, "curve-style": "bezier" } },
        { selector: "edge.uses", style: { "line-color": "#e5b55c", "line-style": "dashed" } },
        {
          selector: "edge.sponsor",
          style: {
            "line-color": "#1d2433",
            "target-arrow-shape": "triangle",
            "target-arrow-color": "#1d2433",
            width: 2,
          },
        },
      ],
    });
    box.dataset.flag = f.id;
    box.dataset.members = String(cy.nodes(".member").length);
    box.dataset.identifiers = String(cy.nodes(".identifier").length);
    box.dataset.uses = String(cy.edges(".uses").length);
    box.dataset.sponsorships = String(cy.edges(".sponsor").length);
    box.dataset.state = "drawn";
    return cy;
  } finally {
    box.removeAttribute("aria-busy");
  }
}

/** The member page's panel: the flags naming the member (staff only; a member token gets
 * FORBIDDEN, which panel.ts shows as a notice). */
export async function memberRiskFlags(id: string): Promise<Child> {
  type Brief = Pick<Flag, "id" | "kind" | "size" | "state"> & {
    evidence: Pick<Flag["evidence"], "tierDistance" | "moneyAtStake" | "identifierCount">;
  };
  const { member } = await gql<{ member: { risk: { flags: Brief[] } } | null }>(MEMBER_FLAGS, { id });
  if (!member) return h("p", { class: "notice" }, `No member ${id}.`);
  const flags = member.risk.flags;
  if (flags.length === 0) return h("p", { class: "muted" }, "No risk flags.");
  return h(
    "table",
    { class: "risk" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "Kind"),
        h("th", { class: "num" }, "Members"),
        h("th", { class: "num" }, "Identifiers shared"),
        h("th", { class: "num" }, "Tier distance"),
        h("th", { class: "num" }, "Money at stake"),
        h("th", {}, "State"),
      ),
    ),
    h(
      "tbody",
      {},
      flags.map((f) =>
        h(
          "tr",
          { "data-flag": f.id, "data-kind": f.kind },
          h("td", {}, kindLabel(f.kind)),
          h("td", { class: "num" }, count(f.size)),
          h("td", { class: "num" }, count(f.evidence.identifierCount)),
          h("td", { class: "num" }, f.evidence.tierDistance === null ? "–" : String(f.evidence.tierDistance)),
          h("td", { class: "num" }, yuan(f.evidence.moneyAtStake)),
          h("td", {}, stateText(f.state)),
        ),
      ),
    ),
  );
}
