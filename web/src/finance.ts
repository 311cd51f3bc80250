// Finance: open withdrawals (requested and approved), oldest first, with approve and reject.

import { ApiError, gql } from "./api";
import { h, replace } from "./dom";
import { count, yuan } from "./format";
import { person, stateBadge, when, type Withdrawal, WITHDRAWAL_FIELDS } from "./income";

interface OpenPage {
  totalCount: number;
  edges: { cursor: string; memberName: string | null; node: Withdrawal }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const OPEN = `query OpenWithdrawals($after: String) {
  openWithdrawals(first: 20, after: $after) {
    totalCount
    edges { cursor memberName node { ${WITHDRAWAL_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const RESULT = `... on Withdrawal { ${WITHDRAWAL_FIELDS} } ... on MutationError { code message }`;
const APPROVE = `mutation Approve($id: ID!) { approveWithdrawal(id: $id) { __typename ${RESULT} } }`;
const REJECT = `mutation Reject($id: ID!, $reason: String!) {
  rejectWithdrawal(id: $id, reason: $reason) { __typename ${RESULT} }
}`;

type Decision =
  | ({ __typename: "Withdrawal" } & Withdrawal)
  | { __typename: "MutationError"; code: string; message: string };

export function financeView(onError: (e: unknown) => void): HTMLElement {
  const body = h("tbody", {});
  const box = h("div", { "data-testid": "open-withdrawals" }, "Loading…");
  const tally = h("p", { class: "muted small", "data-testid": "open-count" });
  const more = h("button", { "data-testid": "open-more", hidden: true }, "More");
  let next: string | null = null;
  let total = 0;

  const recount = (): void => {
    const shown = body.querySelectorAll("tr[data-withdrawal]").length;
    replace(tally, `${count(shown)} of ${count(total)} open withdrawals, oldest first.`);
  };

  async function load(after: string | null): Promise<void> {
    more.setAttribute("disabled", "");
    try {
      const { openWithdrawals: page } = await gql<{ openWithdrawals: OpenPage }>(OPEN, { after });
      total = page.totalCount;
      if (after === null) {
        replace(body);
        replace(
          box,
          h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "open-withdrawals" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ...["Requested", "Member", "Amount", "State", "Decision"].map((t) =>
                    h("th", { class: t === "Amount" ? "num" : "" }, t),
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
      for (const edge of page.edges) body.appendChild(row(edge.node, edge.memberName));
      next = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      more.hidden = next === null;
      recount();
      box.dataset.state = "ready";
    } catch (e) {
      box.dataset.state = "error";
      if (e instanceof ApiError && e.code === "FORBIDDEN") {
        replace(box, h("p", { class: "notice" }, "Withdrawals are decided by admins."));
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

  function row(w: Withdrawal, name: string | null): HTMLTableRowElement {
    const tr = h("tr", { "data-withdrawal": w.id, "data-member": w.memberId, "data-state": w.state });
    const status = h("p", { class: "error small", "data-testid": "decision-error" });
    const decide = async (
      button: HTMLButtonElement,
      query: string,
      vars: Record<string, unknown>,
      field: string,
    ): Promise<void> => {
      button.disabled = true;
      replace(status);
      try {
        const data = await gql<Record<string, Decision>>(query, vars);
        const done = data[field];
        if (!done) return;
        if (done.__typename === "MutationError") {
          replace(status, `${done.code}: ${done.message}`);
          return;
        }
        // An approved request stays open until a payout batch pays it; a rejected one leaves.
        if (done.state === "APPROVED" || done.state === "REQUESTED") {
          tr.replaceWith(row(done, name));
        } else {
          tr.remove();
          total = Math.max(0, total - 1);
          recount();
        }
      } catch (e) {
        replace(status, (e as Error).message);
        onError(e);
      } finally {
        button.disabled = false;
      }
    };

    let decision: HTMLElement;
    if (w.state === "REQUESTED") {
      const approve = h("button", { type: "button", "data-testid": "approve" }, "Approve");
      approve.addEventListener("click", () =>
        void decide(approve, APPROVE, { id: w.id }, "approveWithdrawal"),
      );
      const reason = h("input", {
        type: "text",
        name: "reason",
        placeholder: "Reason for rejecting",
        "aria-label": `reason to reject ${w.id}`,
        "data-testid": "reject-reason",
        required: true,
        maxlength: 500,
      });
      const reject = h("button", { type: "submit", class: "danger", "data-testid": "reject" }, "Reject");
      const form = h("form", { class: "reject" }, reason, reject);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const text = reason.value.trim();
        if (!text) {
          replace(status, "A rejection needs a reason.");
          reason.focus();
          return;
        }
        void decide(reject, REJECT, { id: w.id, reason: text }, "rejectWithdrawal");
      });
      decision = h("div", { class: "decision" }, approve, form, status);
    } else {
      decision = h(
        "div",
        { class: "decision muted small" },
        `approved by ${w.decidedBy ?? "–"} ${when(w.decidedAt)}; the next payout batch pays it`,
        status,
      );
    }
    tr.append(
      h("td", { class: "at" }, when(w.requestedAt)),
      h("td", { class: "member" }, person(w.memberId, name)),
      h("td", { class: "num amount" }, yuan(w.amount)),
      h("td", { class: "state" }, stateBadge(w.state)),
      h("td", {}, decision),
    );
    return tr;
  }

  void load(null);
  return h(
    "section",
    { class: "view", "data-view": "finance", "data-testid": "finance-view" },
    h("h2", {}, "Open withdrawals"),
    h(
      "p",
      { class: "muted" },
      "Requested withdrawals wait for a decision; approved ones wait for the next payout batch (",
      h("code", {}, "downline pay"),
      ").",
    ),
    box,
  );
}
