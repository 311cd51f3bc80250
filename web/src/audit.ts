// The audit trail: who changed what, when and why, newest first, filtered by target and action.

import { ApiError, gql } from "./api";
import { h, replace } from "./dom";
import { count } from "./format";
import { when } from "./income";

interface AuditRecord {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  before: string | null;
  after: string | null;
  reason: string | null;
}

interface AuditPage {
  edges: { cursor: string; node: AuditRecord }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const AUDIT = `query Audit($target: String, $action: String, $from: DateTime, $to: DateTime, $after: String) {
  auditLog(target: $target, action: $action, from: $from, to: $to, first: 20, after: $after) {
    edges { cursor node { id at actor action target before after reason } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** The actions graph/ and api/ record (AuditRecord.action's description). */
const ACTIONS = [
  "member.transfer",
  "member.suspend",
  "member.unsuspend",
  "plan.load",
  "settle",
  "db.reset",
  "pay",
  "adjust",
  "withdrawal.approve",
  "withdrawal.reject",
];

export function auditView(onError: (e: unknown) => void): HTMLElement {
  const target = h("input", {
    type: "search",
    name: "target",
    placeholder: "Target (member id, plan, run)",
    "aria-label": "audit target",
    "data-testid": "audit-target",
  });
  const action = h(
    "select",
    { name: "action", "aria-label": "audit action", "data-testid": "audit-action" },
    h("option", { value: "" }, "Any action"),
    ...ACTIONS.map((a) => h("option", { value: a }, a)),
  );
  const from = h("input", { type: "date", name: "from", "aria-label": "from", "data-testid": "audit-from" });
  const to = h("input", { type: "date", name: "to", "aria-label": "to", "data-testid": "audit-to" });
  const form = h(
    "form",
    { class: "filters", "data-testid": "audit-filters" },
    target,
    action,
    h("label", {}, "from ", from),
    h("label", {}, "before ", to),
    h("button", { type: "submit" }, "Show"),
  );
  const box = h("div", { "data-testid": "audit-log" }, "Loading…");
  const body = h("tbody", {});
  const tally = h("p", { class: "muted small", "data-testid": "audit-count" });
  const more = h("button", { "data-testid": "audit-more", hidden: true }, "More");
  let next: string | null = null;
  let generation = 0;

  const variables = (): Record<string, unknown> => ({
    target: target.value.trim() || null,
    action: action.value || null,
    from: from.value ? `${from.value}T00:00:00+08:00` : null,
    to: to.value ? `${to.value}T00:00:00+08:00` : null,
  });

  async function load(after: string | null): Promise<void> {
    const mine = after === null ? ++generation : generation;
    more.setAttribute("disabled", "");
    try {
      const { auditLog: page } = await gql<{ auditLog: AuditPage }>(AUDIT, {
        ...variables(),
        after,
      });
      if (mine !== generation) return;
      if (after === null) {
        replace(body);
        replace(
          box,
          h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "audit" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ...["Actor", "Time", "Action", "Target", "Before", "After", "Reason"].map((t) =>
                    h("th", {}, t),
                  ),
                ),
              ),
              body,
            ),
          ),
          tally,
          more,
        );
      }
      for (const edge of page.edges) body.appendChild(row(edge.node));
      next = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      more.hidden = next === null;
      const shown = body.children.length;
      replace(
        tally,
        shown === 0
          ? "No audit records match."
          : `${count(shown)} records, newest first${next ? "; more below" : ""}.`,
      );
      box.dataset.state = "ready";
    } catch (e) {
      if (mine !== generation) return;
      box.dataset.state = "error";
      if (e instanceof ApiError && e.code === "FORBIDDEN") {
        replace(box, h("p", { class: "notice" }, "The audit trail is for admins."));
        box.dataset.state = "forbidden";
        return;
      }
      replace(box, h("p", { class: "error" }, (e as Error).message));
      onError(e);
    } finally {
      more.removeAttribute("disabled");
    }
  }
  more.addEventListener("click", () => void load(next));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    box.dataset.state = "loading";
    void load(null);
  });

  void load(null);
  return h(
    "section",
    { class: "view", "data-view": "audit", "data-testid": "audit-view" },
    h("h2", {}, "Audit trail"),
    h("p", { class: "muted" }, "Every admin action, through GraphQL or the CLI; records are never edited."),
    form,
    box,
  );
}

function row(r: AuditRecord): HTMLElement {
  return h(
    "tr",
    { "data-audit": r.id, "data-action": r.action, "data-target": r.target },
    h("td", { class: "actor" }, r.actor),
    h("td", { class: "at" }, when(r.at)),
    h("td", { class: "action" }, h("code", {}, r.action)),
    h("td", { class: "target" }, r.target),
    h("td", { class: "before" }, json(r.before)),
    h("td", { class: "after" }, json(r.after)),
    h("td", { class: "reason" }, r.reason ?? ""),
  );
}

/** before/after are JSON text; shown as compact key=value pairs. */
function json(text: string | null): HTMLElement | string {
  if (!text) return "–";
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const pairs = Object.entries(value as Record<string, unknown>).map(
        ([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`,
      );
      return h("code", { class: "small" }, pairs.join(" "));
    }
  } catch {
    // Not JSON: shown as stored.
  }
  return h("code", { class: "small" }, text);
}
