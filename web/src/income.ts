// A member's money: balance, income details (the ledger, newest first) and withdrawals.

import { ApiError, gql } from "./api";
import { h, replace } from "./dom";
import { count, yuan } from "./format";
import { stat } from "./panel";

interface Balance {
  balance: string;
  available: string;
  withdrawing: string;
  pending: string;
  paid: string;
  frozen: string;
}

interface LedgerLine {
  kind: string;
  amount: string;
  orderId: string | null;
  tier: number | null;
  reversal: boolean;
  settledRun: string | null;
  at: string;
  adjustmentId: string | null;
  reason: string | null;
  buyerId: string | null;
  buyerName: string | null;
  sellerId: string | null;
  sellerName: string | null;
}

interface LedgerPage {
  totalCount: number;
  edges: { cursor: string; node: LedgerLine }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export interface Withdrawal {
  id: string;
  memberId: string;
  amount: string;
  state: string;
  requestedAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  reason: string | null;
  paidAt: string | null;
  batchId: string | null;
}

const BALANCE = `query Balance($id: ID!) {
  member(id: $id) { balance { balance available withdrawing pending paid frozen } }
}`;

const LEDGER = `query Ledger($id: ID!, $first: Int, $after: String) {
  member(id: $id) {
    ledger(first: $first, after: $after) {
      totalCount
      edges { cursor node {
        kind amount orderId tier reversal settledRun at adjustmentId reason
        buyerId buyerName sellerId sellerName
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

/** The Withdrawal fields every view reads (income, finance). */
export const WITHDRAWAL_FIELDS =
  "id memberId amount state requestedAt decidedAt decidedBy reason paidAt batchId";

const WITHDRAWALS = `query Withdrawals($id: ID!) {
  member(id: $id) { withdrawals { ${WITHDRAWAL_FIELDS} } }
}`;

const PAGE = 20;

/** Times as the platform shows them: UTC+08:00, to the second. */
export function when(value: string | null | undefined): string {
  if (!value) return "–";
  const t = Date.parse(value);
  if (!Number.isFinite(t)) return value;
  return new Date(t + 8 * 3_600_000).toISOString().slice(0, 19).replace("T", " ");
}

export function stateBadge(state: string): HTMLElement {
  const colour = state === "REJECTED" ? " red" : state === "PAID" ? "" : " grey";
  return h("span", { class: `badge${colour}`, "data-testid": "withdrawal-state" }, state);
}

function refusal(e: unknown): HTMLElement {
  if (e instanceof ApiError && e.code === "FORBIDDEN") {
    return h("p", { class: "notice" }, "Only this member and staff see this member's money.");
  }
  if (e instanceof ApiError && e.absent) {
    return h("p", { class: "notice" }, "This server does not offer these figures yet.");
  }
  return h("p", { class: "error" }, (e as Error).message);
}

export function person(id: string | null, name: string | null): Node | string {
  if (!id) return "–";
  return h(
    "span",
    {},
    h("a", { href: `#/member/${encodeURIComponent(id)}` }, id),
    name ? h("span", { class: "muted small" }, ` ${name}`) : null,
  );
}

const KIND_LABEL: Record<string, string> = { GIFT_PACKAGE: "Gift package", RETAIL: "Retail" };

function kindLabel(line: LedgerLine): string {
  if (line.kind === "ADJUSTMENT") return line.reason ? `Adjustment (${line.reason})` : "Adjustment";
  return KIND_LABEL[line.kind] ?? line.kind;
}

function ledgerRow(line: LedgerLine): HTMLElement {
  const negative = line.amount.startsWith("-");
  return h(
    "tr",
    {
      "data-testid": "ledger-line",
      "data-order": line.orderId ?? "",
      "data-kind": line.kind,
      "data-tier": line.tier ?? "",
      "data-reversal": String(line.reversal),
    },
    h("td", { class: "time" }, when(line.at)),
    h("td", { "data-col": "order" }, line.orderId ?? "–"),
    h("td", { "data-col": "kind" }, kindLabel(line)),
    h("td", { "data-col": "tier", class: "num" }, line.tier === null ? "–" : String(line.tier)),
    h("td", { "data-col": "amount", class: negative ? "num negative" : "num" }, yuan(line.amount)),
    h("td", { "data-col": "reversal" }, line.reversal ? h("span", { class: "badge red" }, "reversal") : ""),
    h("td", { "data-col": "run", class: "small" }, line.settledRun ?? "–"),
    h("td", { "data-col": "buyer" }, person(line.buyerId, line.buyerName)),
    h("td", { "data-col": "seller" }, line.kind === "RETAIL" ? person(line.sellerId, line.sellerName) : "–"),
  );
}

export function withdrawalTable(list: Withdrawal[]): HTMLElement {
  if (list.length === 0) return h("p", { class: "muted", "data-testid": "no-withdrawals" }, "No withdrawals.");
  return h(
    "table",
    { class: "withdrawals" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "Requested"),
        h("th", { class: "num" }, "Amount"),
        h("th", {}, "State"),
        h("th", {}, "Decided"),
        h("th", {}, "By"),
        h("th", {}, "Reason"),
        h("th", {}, "Paid"),
      ),
    ),
    h(
      "tbody",
      {},
      ...list.map((w) =>
        h(
          "tr",
          { "data-testid": "withdrawal", "data-withdrawal": w.id, "data-state": w.state },
          h("td", { class: "time" }, when(w.requestedAt)),
          h("td", { class: "num", "data-col": "amount" }, yuan(w.amount)),
          h("td", {}, stateBadge(w.state)),
          h("td", { class: "small" }, when(w.decidedAt)),
          h("td", { "data-col": "decided-by" }, w.decidedBy ?? "–"),
          h("td", { "data-col": "reason" }, w.reason ?? ""),
          h("td", { class: "small" }, w.paidAt ? `${when(w.paidAt)} · ${w.batchId ?? ""}` : "–"),
        ),
      ),
    ),
  );
}

/** The member page's money panels; ``reload`` reads them again. */
export function incomePanels(id: string, onError: (e: unknown) => void): HTMLElement & { reload: () => void } {
  const balance = h("div", { class: "stats", "data-testid": "member-balance" }, "Loading…");
  const ledger = h("div", { "data-testid": "member-ledger" }, "Loading…");
  const withdrawals = h("div", { "data-testid": "member-withdrawals" }, "Loading…");

  const failed = (box: HTMLElement, e: unknown): void => {
    replace(box, refusal(e));
    box.dataset.state = "error";
    if (!(e instanceof ApiError && (e.code === "FORBIDDEN" || e.absent))) onError(e);
  };

  async function loadBalance(): Promise<void> {
    try {
      const { member } = await gql<{ member: { balance: Balance } | null }>(BALANCE, { id });
      const b = member?.balance;
      if (!b) {
        replace(balance, h("p", { class: "muted" }, "No balance."));
        return;
      }
      const cell = (label: string, value: string, key: string): HTMLElement => {
        const el = stat(label, yuan(value), value.startsWith("-"));
        el.dataset.field = key;
        el.dataset.testid = `balance-${key}`;
        return el;
      };
      replace(
        balance,
        cell("Available to withdraw", b.available, "available"),
        cell("Pending (hold period)", b.pending, "pending"),
        cell("Paid out", b.paid, "paid"),
        cell("Balance", b.balance, "balance"),
        cell("Withdrawing", b.withdrawing, "withdrawing"),
        cell("Frozen", b.frozen, "frozen"),
      );
      balance.dataset.state = "ready";
    } catch (e) {
      failed(balance, e);
    }
  }

  async function loadLedger(): Promise<void> {
    const body = h("tbody", {});
    const footer = h("div", { class: "more" });
    const table = h(
      "table",
      { class: "ledger" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Time"),
          h("th", {}, "Order"),
          h("th", {}, "Kind"),
          h("th", { class: "num" }, "Tier"),
          h("th", { class: "num" }, "Amount"),
          h("th", {}, "Reversal"),
          h("th", {}, "Run"),
          h("th", {}, "Buyer"),
          h("th", {}, "Seller"),
        ),
      ),
      body,
    );
    const page = async (after: string | null): Promise<void> => {
      const { member } = await gql<{ member: { ledger: LedgerPage } | null }>(LEDGER, {
        id,
        first: PAGE,
        after,
      });
      const found = member?.ledger;
      if (!found) return;
      for (const edge of found.edges) body.appendChild(ledgerRow(edge.node));
      const shown = body.rows.length;
      if (found.pageInfo.hasNextPage && found.pageInfo.endCursor) {
        const cursor = found.pageInfo.endCursor;
        const more: HTMLButtonElement = h(
          "button",
          {
            "data-testid": "ledger-more",
            onclick: () => {
              more.disabled = true;
              page(cursor).catch((e: unknown) => replace(footer, refusal(e)));
            },
          },
          `More (${count(shown)} of ${count(found.totalCount)})`,
        );
        replace(footer, more);
      } else {
        replace(
          footer,
          h(
            "span",
            { class: "muted small", "data-testid": "ledger-count" },
            `${count(shown)} of ${count(found.totalCount)} lines, newest first.`,
          ),
        );
      }
    };
    try {
      await page(null);
      replace(ledger, body.rows.length ? table : h("p", { class: "muted" }, "No ledger lines yet."), footer);
      ledger.dataset.state = "ready";
    } catch (e) {
      failed(ledger, e);
    }
  }

  async function loadWithdrawals(): Promise<void> {
    try {
      const { member } = await gql<{ member: { withdrawals: Withdrawal[] } | null }>(WITHDRAWALS, { id });
      replace(withdrawals, withdrawalTable(member?.withdrawals ?? []));
      withdrawals.dataset.state = "ready";
    } catch (e) {
      failed(withdrawals, e);
    }
  }

  const reload = (): void => {
    void loadBalance();
    void loadLedger();
    void loadWithdrawals();
  };
  reload();
  const box = h(
    "div",
    { class: "income", "data-testid": "member-income" },
    h("h3", {}, "Balance"),
    balance,
    h("h3", {}, "Income details"),
    ledger,
    h("h3", {}, "Withdrawals"),
    withdrawals,
  );
  return Object.assign(box, { reload });
}
